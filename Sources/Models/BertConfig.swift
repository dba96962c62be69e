import Foundation

/// The hyper-parameters of a BERT-family encoder, read from a Hugging Face `config.json`.
public struct BertConfig: Codable, Sendable, Equatable {
    public var modelType: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    /// Only "gelu" (exact, erf) is accepted; "gelu_new"/tanh variants would silently change outputs.
    public var hiddenAct: String
    public var maxPositions: Int
    /// Defaults to 2 when absent (BERT's sentence A/B).
    public var typeVocabSize: Int
    /// Defaults to 1e-12 when absent (BERT's value).
    public var layerNormEps: Float
    /// Defaults to "absolute" when absent; nothing else is supported.
    public var positionEmbeddingType: String
    /// Defaults to 0 when absent.
    public var padTokenId: Int

    enum CodingKeys: String, CodingKey {
        case modelType = "model_type"
        case vocabSize = "vocab_size"
        case hiddenSize = "hidden_size"
        case layers = "num_hidden_layers"
        case heads = "num_attention_heads"
        case intermediateSize = "intermediate_size"
        case hiddenAct = "hidden_act"
        case maxPositions = "max_position_embeddings"
        case typeVocabSize = "type_vocab_size"
        case layerNormEps = "layer_norm_eps"
        case positionEmbeddingType = "position_embedding_type"
        case padTokenId = "pad_token_id"
    }

    public init(modelType: String = "bert", vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int,
                intermediateSize: Int, hiddenAct: String = "gelu", maxPositions: Int, typeVocabSize: Int = 2,
                layerNormEps: Float = 1e-12, positionEmbeddingType: String = "absolute", padTokenId: Int = 0) {
        self.modelType = modelType; self.vocabSize = vocabSize; self.hiddenSize = hiddenSize
        self.layers = layers; self.heads = heads; self.intermediateSize = intermediateSize
        self.hiddenAct = hiddenAct; self.maxPositions = maxPositions; self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps; self.positionEmbeddingType = positionEmbeddingType
        self.padTokenId = padTokenId
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        modelType = try c.decode(String.self, forKey: .modelType)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        layers = try c.decode(Int.self, forKey: .layers)
        heads = try c.decode(Int.self, forKey: .heads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediateSize)
        hiddenAct = try c.decodeIfPresent(String.self, forKey: .hiddenAct) ?? "gelu"
        maxPositions = try c.decode(Int.self, forKey: .maxPositions)
        typeVocabSize = try c.decodeIfPresent(Int.self, forKey: .typeVocabSize) ?? 2
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layerNormEps) ?? 1e-12
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? "absolute"
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId) ?? 0
    }

    /// Reads and validates `config.json`; every problem names the file and the key.
    public static func load(_ url: URL) throws -> BertConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.missingFile(url, hint: "an encoder directory needs config.json from the Hugging Face checkpoint")
        }
        let config: BertConfig
        do { config = try JSONDecoder().decode(BertConfig.self, from: data) } catch let DecodingError.keyNotFound(key, _) {
            throw ModelError.invalidConfig(url, key: key.stringValue, reason: "is missing")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ModelError.invalidConfig(url, key: ctx.codingPath.map(\.stringValue).joined(separator: "."), reason: "has the wrong type")
        } catch {
            throw ModelError.invalidConfig(url, key: "", reason: "is not valid JSON (\(error.localizedDescription))")
        }
        try config.validate(url)
        return config
    }

    func validate(_ url: URL) throws {
        let supported = ["bert", "roberta", "xlm-roberta", "distilbert"].contains(modelType)
        guard modelType == "bert" else {
            throw ModelError.invalidConfig(url, key: "model_type",
                reason: "is '\(modelType)'; only 'bert' encoders are supported\(supported ? " so far" : "")")
        }
        guard hiddenAct == "gelu" else {
            throw ModelError.invalidConfig(url, key: "hidden_act", reason: "is '\(hiddenAct)'; only exact 'gelu' is supported")
        }
        guard positionEmbeddingType == "absolute" else {
            throw ModelError.invalidConfig(url, key: "position_embedding_type",
                reason: "is '\(positionEmbeddingType)'; only 'absolute' is supported")
        }
        for (key, value) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", layers),
                             ("num_attention_heads", heads), ("intermediate_size", intermediateSize),
                             ("max_position_embeddings", maxPositions), ("type_vocab_size", typeVocabSize)]
        where value <= 0 || value > 1 << 20 {
            throw ModelError.invalidConfig(url, key: key, reason: "is \(value), outside 1...\(1 << 20)")
        }
        guard hiddenSize % heads == 0 else {
            throw ModelError.invalidConfig(url, key: "num_attention_heads",
                reason: "(\(heads)) does not divide hidden_size (\(hiddenSize))")
        }
    }
}
