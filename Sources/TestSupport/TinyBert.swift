import Foundation
import Models

/// Writes tiny random-weight BERT directories (config.json, model.safetensors, tokenizer.json,
/// pooling modules) and matching LoRA adapters, for fast tests of loading and error paths.
public enum TinyBert {
    public static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                    "the", "party", "shall", "pay", "fee", "##s", "notice", ".", ",", "a", "b"]

    /// A deterministic pseudo-random generator so test models are the same every run.
    public struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        public init(seed: UInt64) { state = seed }
        public mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    public static func randomValues(_ count: Int, scale: Float = 0.1, rng: inout SplitMix) -> [Float] {
        (0..<count).map { _ in Float.random(in: -scale...scale, using: &rng) }
    }

    public static func config(hidden: Int = 16, layers: Int = 2, heads: Int = 2, intermediate: Int = 32,
                              maxPositions: Int = 64) -> BertConfig {
        BertConfig(vocabSize: vocabulary.count, hiddenSize: hidden, layers: layers, heads: heads,
                   intermediateSize: intermediate, maxPositions: maxPositions)
    }

    /// Writes a complete encoder directory and returns it.
    @discardableResult
    public static func write(to directory: URL, config: BertConfig = config(), seed: UInt64 = 1,
                             dtype: TensorDType = .f32, prefix: String = "") throws -> URL {
        let fm = FileManager.default
        try fm.createDirectory(at: directory.appendingPathComponent("1_Pooling"), withIntermediateDirectories: true)
        var rng = SplitMix(seed: seed)
        let h = config.hiddenSize, i = config.intermediateSize
        var tensors: [(name: String, dtype: TensorDType, shape: [Int], values: [Float])] = []
        func add(_ name: String, _ shape: [Int], ones: Bool = false) {
            let n = shape.reduce(1, *)
            let values = ones ? [Float](repeating: 1, count: n) : randomValues(n, rng: &rng)
            tensors.append((prefix + name, dtype, shape, values))
        }
        add("embeddings.word_embeddings.weight", [config.vocabSize, h])
        add("embeddings.position_embeddings.weight", [config.maxPositions, h])
        add("embeddings.token_type_embeddings.weight", [config.typeVocabSize, h])
        add("embeddings.LayerNorm.weight", [h], ones: true)
        add("embeddings.LayerNorm.bias", [h])
        for l in 0..<config.layers {
            let p = "encoder.layer.\(l)."
            for proj in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
                add(p + proj + ".weight", [h, h]); add(p + proj + ".bias", [h])
            }
            add(p + "attention.output.LayerNorm.weight", [h], ones: true); add(p + "attention.output.LayerNorm.bias", [h])
            add(p + "intermediate.dense.weight", [i, h]); add(p + "intermediate.dense.bias", [i])
            add(p + "output.dense.weight", [h, i]); add(p + "output.dense.bias", [h])
            add(p + "output.LayerNorm.weight", [h], ones: true); add(p + "output.LayerNorm.bias", [h])
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))

        let configJSON: [String: Any] = [
            "model_type": config.modelType, "vocab_size": config.vocabSize, "hidden_size": h,
            "num_hidden_layers": config.layers, "num_attention_heads": config.heads, "intermediate_size": i,
            "hidden_act": config.hiddenAct, "max_position_embeddings": config.maxPositions,
            "type_vocab_size": config.typeVocabSize, "layer_norm_eps": Double(config.layerNormEps),
        ]
        try JSONSerialization.data(withJSONObject: configJSON, options: [.sortedKeys])
            .write(to: directory.appendingPathComponent("config.json"))
        try tokenizerJSON().write(to: directory.appendingPathComponent("tokenizer.json"))
        let modules: [[String: Any]] = [
            ["idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"],
            ["idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"],
            ["idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"],
        ]
        try JSONSerialization.data(withJSONObject: modules).write(to: directory.appendingPathComponent("modules.json"))
        try JSONSerialization.data(withJSONObject: ["word_embedding_dimension": h, "pooling_mode_mean_tokens": true,
                                                    "pooling_mode_cls_token": false, "pooling_mode_max_tokens": false])
            .write(to: directory.appendingPathComponent("1_Pooling/config.json"))
        return directory
    }

    /// A BERT WordPiece tokenizer.json over `vocabulary`.
    public static func tokenizerJSON() throws -> Data {
        var vocab: [String: Int] = [:]
        for (i, t) in vocabulary.enumerated() { vocab[t] = i }
        let special = { (id: Int, content: String) -> [String: Any] in
            ["id": id, "content": content, "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false]
        }
        let object: [String: Any] = [
            "version": "1.0",
            "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]"), special(4, "[MASK]")],
            "normalizer": ["type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                           "strip_accents": NSNull(), "lowercase": true],
            "pre_tokenizer": ["type": "BertPreTokenizer"],
            "post_processor": [
                "type": "TemplateProcessing",
                "single": [["SpecialToken": ["id": "[CLS]", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                           ["SpecialToken": ["id": "[SEP]", "type_id": 0]]],
                "pair": [] as [Any],
                "special_tokens": ["[CLS]": ["id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]],
                                   "[SEP]": ["id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]]],
            ],
            "decoder": ["type": "WordPiece", "prefix": "##", "cleanup": true],
            "model": ["type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": 100, "vocab": vocab],
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }

    /// Writes a PEFT LoRA adapter for a model of `config`; `targets` are module suffixes.
    @discardableResult
    public static func writeAdapter(to directory: URL, config: BertConfig = config(), rank: Int = 4, alpha: Float = 8,
                                    targets: [String] = ["query", "value"], seed: UInt64 = 2,
                                    inFeatures: Int? = nil) throws -> URL {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var rng = SplitMix(seed: seed)
        var tensors: [(name: String, dtype: TensorDType, shape: [Int], values: [Float])] = []
        let h = config.hiddenSize
        for l in 0..<config.layers {
            for t in targets {
                let module = "base_model.model.encoder.layer.\(l).attention.self.\(t)"
                let k = inFeatures ?? h
                tensors.append((module + ".lora_A.weight", .f32, [rank, k], randomValues(rank * k, rng: &rng)))
                tensors.append((module + ".lora_B.weight", .f32, [h, rank], randomValues(h * rank, rng: &rng)))
            }
        }
        try SafeTensorsWriter.write(tensors, metadata: ["format": "pt"], to: directory.appendingPathComponent("adapter_model.safetensors"))
        let config: [String: Any] = ["peft_type": "LORA", "r": rank, "lora_alpha": Double(alpha), "target_modules": targets,
                                     "fan_in_fan_out": false, "use_rslora": false, "use_dora": false]
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("adapter_config.json"))
        return directory
    }

    /// A fresh temporary directory.
    public static func temporaryDirectory(_ name: String = "dojo-test") -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
