import Foundation
import Kernels

extension JobSpec {
    /// A number parameter with a default.
    public func double(_ key: String, default value: Double) -> Double {
        if case .number(let n)? = params[key] { return n }
        return value
    }

    /// A boolean parameter with a default.
    public func bool(_ key: String, default value: Bool) -> Bool {
        if case .bool(let b)? = params[key] { return b }
        return value
    }

    /// A list of strings (a single string counts as a list of one), if set.
    public func strings(_ key: String) -> [String]? {
        switch params[key] {
        case .list(let l)?: return l.map(\.description)
        case .string(let s)?: return [s]
        default: return nil
        }
    }
}

extension JobSpec {
    /// Every adapter the spec names: the top-level `adapter` and `params.*_adapter` (clinical notes has one per classifier).
    public var adapterPaths: [(key: String, path: String)] {
        var out: [(String, String)] = []
        if let adapter { out.append(("adapter", adapter)) }
        for (k, v) in params.sorted(by: { $0.key < $1.key }) where k.hasSuffix("_adapter") {
            if case .string(let p) = v { out.append((k, p)) }
        }
        return out
    }

    /// Which classifier the top-level adapter serves: clause types, specialty, or the classify labels.
    var primaryLabelPrefix: String {
        switch task {
        case "clinical-notes": return "specialty_"
        default: return ""
        }
    }
}

extension JobSpec {
    /// `params.precision`: f32 (default) or bf16, which runs the encoder's linear layers on bf16
    /// operands (1.8–1.9× the sentences/s in ops/bench/encoder-vs-onnx, embeddings within 2.5e-3
    /// of the reference). Only the value is checked here: the machine that submits need not be one
    /// that runs it; a worker without AVX-512 BF16 refuses the model load with a message saying so.
    public func precision(source: String) throws -> MatmulPrecision {
        guard let value = params["precision"] else { return .f32 }
        guard case .string(let name) = value, let precision = MatmulPrecision(rawValue: name) else {
            throw SpecError(source, "params.precision must be f32 or bf16, not '\(value)'")
        }
        return precision
    }
}
