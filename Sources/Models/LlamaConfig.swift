// The hyper-parameters of a Llama-family decoder, read from GGUF metadata as llama.cpp's
// `llm_load_hparams` reads them (`<arch>.block_count`, `<arch>.embedding_length`, …).
import Foundation

/// Which rotary embedding layout the architecture uses (llama.cpp's `llama_rope_type`).
public enum RopeStyle: String, Codable, Sendable {
    /// Adjacent pairs (x[2i], x[2i+1]) rotate together: llama.cpp's LLAMA_ROPE_TYPE_NORM, used
    /// for `llama` GGUF files (the converter permutes Q and K rows so this matches HF's layout).
    case normal
    /// Halves (x[i], x[i + d/2]) rotate together: LLAMA_ROPE_TYPE_NEOX (Qwen2, HF's rotate_half).
    case neox
}

/// A Llama-family configuration. Coding keys are the GGUF key names after the `<arch>.` prefix.
public struct LlamaConfig: Codable, Sendable, Equatable {
    /// `general.architecture`: "llama" or "qwen2".
    public var architecture: String
    public var layers: Int                 // block_count
    public var dim: Int                    // embedding_length
    public var hiddenDim: Int              // feed_forward_length
    public var heads: Int                  // attention.head_count
    public var kvHeads: Int                // attention.head_count_kv (default: heads)
    public var normEps: Float              // attention.layer_norm_rms_epsilon
    public var ropeFreqBase: Float         // rope.freq_base (default 10000)
    public var ropeDimensions: Int         // rope.dimension_count (default: head dim)
    /// rope.scaling.type "linear": positions are multiplied by this (1 / rope.scaling.factor).
    public var ropeFrequencyScale: Float
    public var contextLength: Int          // context_length
    public var vocabSize: Int              // vocab_size (default: the tokenizer's token count)
    public var ropeStyle: RopeStyle
    /// Q, K and V projections carry biases (Qwen2).
    public var qkvBias: Bool

    public var headDim: Int { dim / heads }
    public var kvDim: Int { kvHeads * headDim }
    /// Query heads per KV head (grouped-query attention).
    public var groupSize: Int { heads / kvHeads }

    enum CodingKeys: String, CodingKey {
        case architecture = "general.architecture"
        case layers = "block_count"
        case dim = "embedding_length"
        case hiddenDim = "feed_forward_length"
        case heads = "attention.head_count"
        case kvHeads = "attention.head_count_kv"
        case normEps = "attention.layer_norm_rms_epsilon"
        case ropeFreqBase = "rope.freq_base"
        case ropeDimensions = "rope.dimension_count"
        case ropeFrequencyScale = "rope.scaling.factor"
        case contextLength = "context_length"
        case vocabSize = "vocab_size"
        case ropeStyle = "rope_style"
        case qkvBias = "qkv_bias"
    }

    /// Architectures this decoder runs, and how they differ.
    public static let supportedArchitectures: [String: (rope: RopeStyle, qkvBias: Bool)] = [
        "llama": (.normal, false),
        "qwen2": (.neox, true),
    ]

    public init(architecture: String = "llama", layers: Int, dim: Int, hiddenDim: Int, heads: Int, kvHeads: Int,
                normEps: Float = 1e-5, ropeFreqBase: Float = 10000, ropeDimensions: Int? = nil,
                ropeFrequencyScale: Float = 1, contextLength: Int, vocabSize: Int,
                ropeStyle: RopeStyle = .normal, qkvBias: Bool = false) {
        self.architecture = architecture
        self.layers = layers; self.dim = dim; self.hiddenDim = hiddenDim
        self.heads = heads; self.kvHeads = kvHeads; self.normEps = normEps
        self.ropeFreqBase = ropeFreqBase; self.ropeDimensions = ropeDimensions ?? dim / heads
        self.ropeFrequencyScale = ropeFrequencyScale; self.contextLength = contextLength
        self.vocabSize = vocabSize; self.ropeStyle = ropeStyle; self.qkvBias = qkvBias
    }

    /// Reads `<arch>.*` from the file. Optional keys and their defaults: head_count_kv = head_count,
    /// rope.freq_base = 10000, rope.dimension_count = head dim, vocab_size = the token list's length,
    /// rope scaling none. A missing or invalid key throws an error that names it.
    public init(gguf g: GGUFFile) throws {
        let url = URL(fileURLWithPath: g.path)
        let arch = try g.architecture
        guard let traits = Self.supportedArchitectures[arch] else {
            throw ModelError.invalidConfig(url, key: "general.architecture",
                reason: "is '\(arch)', which Dojo's decoder does not run; supported: \(Self.supportedArchitectures.keys.sorted().joined(separator: ", "))")
        }
        func key(_ k: CodingKeys) -> String { "\(arch).\(k.rawValue)" }
        func int(_ k: CodingKeys) throws -> Int { try g.int(key(k)) }
        architecture = arch
        layers = try int(.layers)
        dim = try int(.dim)
        hiddenDim = try int(.hiddenDim)
        heads = try int(.heads)
        kvHeads = try g.int(key(.kvHeads), default: heads)
        normEps = try g.float(key(.normEps))
        ropeFreqBase = try g.float(key(.ropeFreqBase), default: 10000)
        contextLength = try int(.contextLength)
        if g.contains(key(.vocabSize)) {
            vocabSize = try int(.vocabSize)
        } else {
            guard case .array(let tokens) = g.value("tokenizer.ggml.tokens") ?? .bool(false) else {
                throw ModelError.invalidConfig(url, key: key(.vocabSize), reason: "is missing and so is tokenizer.ggml.tokens; the vocabulary size is unknown")
            }
            vocabSize = tokens.count
        }
        ropeStyle = traits.rope
        qkvBias = traits.qkvBias
        let scalingType = try g.string("\(arch).rope.scaling.type", default: "none")
        switch scalingType {
        case "none": ropeFrequencyScale = 1
        case "linear":
            let factor = try g.float(key(.ropeFrequencyScale), default: 1)
            guard factor > 0 else {
                throw ModelError.invalidConfig(url, key: key(.ropeFrequencyScale), reason: "is \(factor); it must be positive")
            }
            ropeFrequencyScale = 1 / factor
        default:
            throw ModelError.invalidConfig(url, key: "\(arch).rope.scaling.type",
                reason: "is '\(scalingType)'; Dojo supports none and linear rope scaling")
        }
        ropeDimensions = try g.int(key(.ropeDimensions), default: heads > 0 ? dim / heads : 0)
        try validate(url: url)
    }

    /// Checks combinations the forward pass relies on; each error names the key.
    public func validate(url: URL) throws {
        func bad(_ k: CodingKeys, _ reason: String) -> ModelError {
            .invalidConfig(url, key: "\(architecture).\(k.rawValue)", reason: reason)
        }
        for (k, v) in [(CodingKeys.layers, layers), (.dim, dim), (.hiddenDim, hiddenDim), (.heads, heads),
                       (.kvHeads, kvHeads), (.contextLength, contextLength), (.vocabSize, vocabSize)] where v <= 0 || v > 1 << 24 {
            throw bad(k, "is \(v); it must be between 1 and \(1 << 24)")
        }
        guard dim % heads == 0 else { throw bad(.heads, "is \(heads), which does not divide embedding_length \(dim)") }
        guard heads % kvHeads == 0 else { throw bad(.kvHeads, "is \(kvHeads), which does not divide head_count \(heads)") }
        guard headDim % 2 == 0 else { throw bad(.heads, "gives an odd head dimension \(headDim); RoPE needs pairs") }
        guard ropeDimensions > 0, ropeDimensions <= headDim, ropeDimensions % 2 == 0 else {
            throw bad(.ropeDimensions, "is \(ropeDimensions); it must be even and at most the head dimension \(headDim)")
        }
        guard normEps > 0, normEps < 1 else { throw bad(.normEps, "is \(normEps); it must be a small positive number") }
        guard ropeFreqBase > 1 else { throw bad(.ropeFreqBase, "is \(ropeFreqBase); it must be greater than 1") }
    }
}
