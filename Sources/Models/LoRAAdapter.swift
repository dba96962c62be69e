import Foundation
import Logging

/// A PEFT LoRA adapter (`adapter_config.json` + `adapter_model.safetensors`), applied unmerged at the matmul.
///
/// Follows PEFT's `LoraModel`: for a targeted linear layer `y = W·x + b`, the adapter adds
/// `scale · B·(A·x)` with `scale = lora_alpha / r` (or `/ √r` with rsLoRA), times a user scale.
public final class LoRAAdapter: @unchecked Sendable {
    /// One targeted projection: A is [r, in], B is [out, r].
    public struct Pair: @unchecked Sendable {
        public let a: FloatTensor  // [r, in]
        public let b: FloatTensor  // [out, r]
        public let scale: Float
        public var rank: Int { a.shape[0] }
    }

    /// The parts of `adapter_config.json` Dojo reads.
    public struct Config: Decodable, Sendable {
        public var peftType: String?
        public var taskType: String?
        public var r: Int
        public var loraAlpha: Float
        public var targetModules: [String]
        public var fanInFanOut: Bool
        public var modulesToSave: [String]
        public var useRslora: Bool
        public var useDora: Bool
        public var rankPattern: [String: Int]
        public var alphaPattern: [String: Float]
        public var baseModel: String?

        enum CodingKeys: String, CodingKey {
            case peftType = "peft_type", taskType = "task_type", r, loraAlpha = "lora_alpha"
            case targetModules = "target_modules", fanInFanOut = "fan_in_fan_out", modulesToSave = "modules_to_save"
            case useRslora = "use_rslora", useDora = "use_dora", rankPattern = "rank_pattern"
            case alphaPattern = "alpha_pattern", baseModel = "base_model_name_or_path"
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            peftType = try c.decodeIfPresent(String.self, forKey: .peftType)
            taskType = try c.decodeIfPresent(String.self, forKey: .taskType)
            r = try c.decode(Int.self, forKey: .r)
            loraAlpha = try c.decodeIfPresent(Float.self, forKey: .loraAlpha) ?? Float(r)
            // PEFT allows a list of names or one regular expression.
            if let list = try? c.decodeIfPresent([String].self, forKey: .targetModules) {
                targetModules = list
            } else if let one = try? c.decodeIfPresent(String.self, forKey: .targetModules) {
                targetModules = [one]
            } else {
                targetModules = []
            }
            fanInFanOut = try c.decodeIfPresent(Bool.self, forKey: .fanInFanOut) ?? false
            modulesToSave = (try? c.decodeIfPresent([String].self, forKey: .modulesToSave)) ?? []
            useRslora = try c.decodeIfPresent(Bool.self, forKey: .useRslora) ?? false
            useDora = try c.decodeIfPresent(Bool.self, forKey: .useDora) ?? false
            rankPattern = (try? c.decodeIfPresent([String: Int].self, forKey: .rankPattern)) ?? [:]
            alphaPattern = (try? c.decodeIfPresent([String: Float].self, forKey: .alphaPattern)) ?? [:]
            baseModel = try c.decodeIfPresent(String.self, forKey: .baseModel)
        }
    }

    public let directory: URL
    public let config: Config
    /// Targeted projections by the base weight's module name (e.g. `encoder.layer.0.attention.self.query`).
    public let pairs: [String: Pair]
    /// `modules_to_save` tensors (a classification head, replaced layers) by tensor name without PEFT's prefix.
    public let savedTensors: [String: FloatTensor]
    /// Labels of a classification adapter (`id2label`), in id order; empty for others.
    public let labels: [String]
    /// Multiplies every pair's scale; 1 reproduces PEFT.
    public var userScale: Float = 1

    private static let logger = Logger(label: "dojo.lora")

    /// Loads an adapter directory, refusing what Dojo cannot apply faithfully.
    public init(directory: URL) throws {
        self.directory = directory
        let configURL = directory.appendingPathComponent("adapter_config.json")
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        guard let data = try? Data(contentsOf: configURL) else {
            throw ModelError.missingFile(configURL, hint: "a LoRA adapter directory needs adapter_config.json and adapter_model.safetensors (PEFT's save_pretrained)")
        }
        let config: Config
        do { config = try JSONDecoder().decode(Config.self, from: data) } catch {
            throw ModelError.adapter(configURL, "not a PEFT LoRA config (\(error)); expected keys r, lora_alpha, target_modules")
        }
        if let type = config.peftType, type != "LORA" {
            throw ModelError.adapter(configURL, "peft_type is '\(type)'; only LORA adapters are supported")
        }
        if config.useDora {
            throw ModelError.adapter(configURL, "use_dora is true; DoRA adapters are not supported, train a plain LoRA adapter")
        }
        guard config.r > 0, config.r <= 4096 else {
            throw ModelError.adapter(configURL, "r is \(config.r), outside 1...4096")
        }
        self.config = config
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw ModelError.missingFile(weightsURL, hint: "the adapter's weights are missing; PEFT writes them with save_pretrained(safe_serialization=True)")
        }
        let file = try SafeTensorsFile(url: weightsURL)

        var a: [String: FloatTensor] = [:], b: [String: FloatTensor] = [:]
        var saved: [String: FloatTensor] = [:]
        for name in file.names {
            guard let info = file.info(name) else { continue }
            var stripped = Self.stripPrefix(name)
            stripped = stripped.replacingOccurrences(of: ".modules_to_save.default", with: "")
            if let range = stripped.range(of: ".lora_A.") ?? stripped.range(of: ".lora_B.") {
                let module = String(stripped[..<range.lowerBound])
                let isA = stripped[range].contains("lora_A")
                guard info.shape.count == 2 else {
                    throw ModelError.adapter(weightsURL, "tensor '\(name)' has rank \(info.shape.count); LoRA matrices are 2-D")
                }
                let t = try file.floats(name, shape: info.shape)
                if isA { a[module] = t } else { b[module] = t }
            } else if name.contains("lora_embedding") || name.contains("lora_magnitude") {
                throw ModelError.adapter(weightsURL, "tensor '\(name)' is an embedding/DoRA LoRA weight, which is not supported")
            } else {
                saved[stripped] = try file.floats(name, shape: info.shape)
            }
        }

        var pairs: [String: Pair] = [:]
        for (module, aT) in a {
            guard let bT = b[module] else {
                throw ModelError.adapter(weightsURL, "'\(module)' has lora_A but no lora_B; the file is incomplete")
            }
            let r = aT.shape[0]
            guard bT.shape[1] == r else {
                throw ModelError.adapterShape(weightsURL, tensor: "\(module).lora_B.weight", expected: [bT.shape[0], r], found: bT.shape)
            }
            let key = module.split(separator: ".").last.map(String.init) ?? module
            let alpha = config.alphaPattern.first { module.hasSuffix($0.key) || key == $0.key }?.value ?? config.loraAlpha
            let scale = config.useRslora ? alpha / Float(r).squareRoot() : alpha / Float(r)
            pairs[module] = Pair(a: aT, b: bT, scale: scale)
        }
        if let orphan = b.keys.first(where: { a[$0] == nil }) {
            throw ModelError.adapter(weightsURL, "'\(orphan)' has lora_B but no lora_A; the file is incomplete")
        }
        if pairs.isEmpty && saved.isEmpty {
            throw ModelError.adapter(weightsURL, "holds no LoRA tensors (names containing lora_A/lora_B)")
        }
        self.pairs = pairs
        self.savedTensors = saved
        self.labels = Self.readLabels(directory)
        if config.fanInFanOut {
            Self.logger.warning("adapter sets fan_in_fan_out for nn.Linear targets; applying as PEFT does (ignored)",
                                metadata: ["adapter": "\(directory.path)"])
        }
    }

    /// Checks every pair against the model's linear layers ([out, in] by module name).
    public func validate(linearShapes: [String: (out: Int, in: Int)]) throws {
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        for (module, pair) in pairs.sorted(by: { $0.key < $1.key }) {
            guard let shape = linearShapes[module] else {
                let known = Set(linearShapes.keys.compactMap { $0.split(separator: ".").last.map(String.init) })
                throw ModelError.adapter(weightsURL, "targets '\(module)', which this model does not have "
                    + "(its projections are named \(known.sorted().joined(separator: ", "))); this adapter was trained for another base model")
            }
            if pair.a.shape[1] != shape.in {
                throw ModelError.adapterShape(weightsURL, tensor: "\(module).lora_A.weight", expected: [pair.rank, shape.in], found: pair.a.shape)
            }
            if pair.b.shape[0] != shape.out {
                throw ModelError.adapterShape(weightsURL, tensor: "\(module).lora_B.weight", expected: [shape.out, pair.rank], found: pair.b.shape)
            }
        }
        // A declared target that matches no layer of the model means the adapter is for something else.
        for target in config.targetModules where !pairs.isEmpty {
            let matched = linearShapes.keys.contains { $0 == target || $0.hasSuffix("." + target) }
            if !matched && target.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." }) {
                throw ModelError.adapter(directory.appendingPathComponent("adapter_config.json"),
                    "target module '\(target)' does not exist in this model")
            }
        }
    }

    /// The pair for a base module, if this adapter targets it.
    @inline(__always)
    public func pair(for module: String) -> Pair? { pairs[module] }

    /// Strips PEFT's `base_model.model.` and a task head's `bert.` so names match the bare encoder's.
    static func stripPrefix(_ name: String) -> String {
        var s = Substring(name)
        for prefix in ["base_model.model.", "bert."] where s.hasPrefix(prefix) { s = s.dropFirst(prefix.count) }
        return String(s)
    }

    /// Reads `id2label` from the adapter's label map, if it has one.
    static func readLabels(_ directory: URL) -> [String] {
        for file in ["labels.json", "config.json"] {
            let url = directory.appendingPathComponent(file)
            guard let data = try? Data(contentsOf: url),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let map = object["id2label"] as? [String: String] else { continue }
            return map.compactMap { k, v in Int(k).map { ($0, v) } }.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return []
    }
}
