// AdapterWriter: writes a trained classifier as a PEFT directory — adapter_config.json (LORA,
// SEQ_CLS, modules_to_save ["classifier"]), adapter_model.safetensors with PEFT's tensor names
// (base_model.model.encoder.layer.N.attention.self.query.lora_A.weight [r, in], lora_B [out, r],
// base_model.model.classifier.weight [labels, hidden] and .bias) and labels.json (id2label,
// label2id). Everything goes to a temporary sibling directory that is renamed into place at
// the end, so an interrupted run never leaves a half-written adapter.
import Foundation

public enum AdapterWriter {
    /// Writes the adapter of `finetuner` to `directory`; refuses an existing directory unless `force`.
    public static func write(_ finetuner: Finetuner, baseModel: String, to directory: URL, force: Bool = false,
                             extra: [String: Any] = [:]) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: directory.path) && !force {
            throw ModelError.invalidInput("\(directory.path) already exists; choose another output directory or pass --force to replace it")
        }
        let parent = directory.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let temporary = parent.appendingPathComponent(".\(directory.lastPathComponent).partial-\(getpid())")
        try? fm.removeItem(at: temporary)
        try fm.createDirectory(at: temporary, withIntermediateDirectories: false)
        do {
            try weights(finetuner.trainer.parameters).write(to: temporary.appendingPathComponent("adapter_model.safetensors"))
            try config(finetuner.options, baseModel: baseModel).write(to: temporary.appendingPathComponent("adapter_config.json"))
            try labels(finetuner.labels).write(to: temporary.appendingPathComponent("labels.json"))
            if !extra.isEmpty {
                try JSONSerialization.data(withJSONObject: extra, options: [.sortedKeys, .prettyPrinted])
                    .write(to: temporary.appendingPathComponent("training.json"))
            }
            if fm.fileExists(atPath: directory.path) { try fm.removeItem(at: directory) }
            try fm.moveItem(at: temporary, to: directory)
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
    }

    /// adapter_model.safetensors bytes.
    public static func weights(_ p: TrainableParameters) throws -> Data {
        var tensors: [(name: String, shape: [Int], values: UnsafeBufferPointer<Float>)] = []
        for m in p.modules {
            let base = "base_model.model.\(m.name)"
            tensors.append((base + ".lora_A.weight", [m.rank, m.inFeatures], UnsafeBufferPointer(start: p.values + m.a, count: m.rank * m.inFeatures)))
            tensors.append((base + ".lora_B.weight", [m.outFeatures, m.rank], UnsafeBufferPointer(start: p.values + m.b, count: m.outFeatures * m.rank)))
        }
        tensors.append(("base_model.model.classifier.weight", [p.labels, p.hidden],
                        UnsafeBufferPointer(start: p.values + p.headWeight, count: p.labels * p.hidden)))
        tensors.append(("base_model.model.classifier.bias", [p.labels], UnsafeBufferPointer(start: p.values + p.headBias, count: p.labels)))
        return try SafeTensorsOutput.data(tensors)
    }

    static func config(_ o: FinetuneOptions, baseModel: String) throws -> Data {
        let object: [String: Any] = [
            "peft_type": "LORA", "task_type": "SEQ_CLS", "r": o.rank, "lora_alpha": Double(o.alpha),
            "target_modules": o.targets, "lora_dropout": Double(o.dropout), "modules_to_save": ["classifier"],
            "base_model_name_or_path": baseModel, "bias": "none", "fan_in_fan_out": false, "inference_mode": true,
            "init_lora_weights": true, "use_rslora": false, "use_dora": false, "rank_pattern": [String: Int](),
            "alpha_pattern": [String: Double](),
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
    }

    static func labels(_ labels: [String]) throws -> Data {
        var id2label: [String: String] = [:], label2id: [String: Int] = [:]
        for (i, l) in labels.enumerated() { id2label[String(i)] = l; label2id[l] = i }
        return try JSONSerialization.data(withJSONObject: ["id2label": id2label, "label2id": label2id],
                                          options: [.sortedKeys, .prettyPrinted])
    }
}
