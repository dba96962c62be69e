import Foundation

/// How token states become one sentence vector, as sentence-transformers' `Pooling` and `Normalize` modules say.
public struct Pooling: Sendable, Equatable {
    public enum Mode: String, Sendable { case cls, mean, max, meanSqrtLength = "mean_sqrt_len" }

    public var mode: Mode
    /// L2-normalise the pooled vector (a `Normalize` module in modules.json).
    public var normalize: Bool

    public init(mode: Mode, normalize: Bool) {
        self.mode = mode
        self.normalize = normalize
    }

    /// Reads `modules.json` and the pooling module's `config.json`; a bare Hugging Face
    /// checkpoint (no modules.json) gets mean pooling without normalisation, sentence-transformers' default.
    public static func load(directory: URL) throws -> Pooling {
        let modulesURL = directory.appendingPathComponent("modules.json")
        guard let data = try? Data(contentsOf: modulesURL) else { return Pooling(mode: .mean, normalize: false) }
        guard let modules = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else {
            throw ModelError.invalidConfig(modulesURL, key: "", reason: "is not a JSON list of modules")
        }
        var pooling = Pooling(mode: .mean, normalize: false)
        for module in modules {
            let type = module["type"] as? String ?? ""
            if type.hasSuffix(".Pooling") {
                let path = module["path"] as? String ?? "1_Pooling"
                let url = directory.appendingPathComponent(path).appendingPathComponent("config.json")
                guard let d = try? Data(contentsOf: url),
                      let c = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else {
                    throw ModelError.missingFile(url, hint: "modules.json names a Pooling module whose config.json is missing")
                }
                if let mode = c["pooling_mode"] as? String {
                    let aliases: [String: Mode] = ["cls": .cls, "mean": .mean, "max": .max, "mean_sqrt_len_tokens": .meanSqrtLength]
                    guard let m = aliases[mode] ?? Mode(rawValue: mode) else {
                        throw ModelError.invalidConfig(url, key: "pooling_mode", reason: "is '\(mode)'; supported: cls, mean, max, mean_sqrt_len_tokens")
                    }
                    pooling.mode = m
                } else {
                    let flags: [(String, Mode)] = [("pooling_mode_cls_token", .cls), ("pooling_mode_mean_tokens", .mean),
                                                   ("pooling_mode_max_tokens", .max), ("pooling_mode_mean_sqrt_len_tokens", .meanSqrtLength)]
                    let on = flags.filter { (c[$0.0] as? Bool) == true }
                    guard on.count == 1 else {
                        throw ModelError.invalidConfig(url, key: "pooling_mode_*",
                            reason: "enables \(on.count) modes; Dojo supports exactly one (concatenated modes are not supported)")
                    }
                    pooling.mode = on[0].1
                }
            } else if type.hasSuffix(".Normalize") {
                pooling.normalize = true
            } else if type.hasSuffix(".Dense") {
                throw ModelError.invalidConfig(modulesURL, key: "type", reason: "names a Dense module, which is not supported yet")
            }
        }
        return pooling
    }

    /// Pools `rows` token states of width `width` (contiguous) into `out`.
    public func pool(_ states: UnsafePointer<Float>, rows: Int, width: Int, into out: UnsafeMutablePointer<Float>) {
        switch mode {
        case .cls:
            out.update(from: states, count: width)
        case .max:
            out.update(from: states, count: width)
            for r in 1..<max(rows, 1) {
                let row = states + r * width
                for j in 0..<width where row[j] > out[j] { out[j] = row[j] }
            }
        case .mean, .meanSqrtLength:
            out.initialize(repeating: 0, count: width)
            for r in 0..<rows {
                let row = states + r * width
                for j in 0..<width { out[j] += row[j] }
            }
            let divisor = mode == .mean ? Float(rows) : Float(rows).squareRoot()
            let inv = 1 / max(divisor, 1e-9)
            for j in 0..<width { out[j] *= inv }
        }
        if normalize {
            var sum: Float = 0
            for j in 0..<width { sum += out[j] * out[j] }
            // torch.nn.functional.normalize clamps the norm at 1e-12.
            let inv = 1 / max(sum.squareRoot(), 1e-12)
            for j in 0..<width { out[j] *= inv }
        }
    }
}
