import Foundation
import Kernels

/// A sentence-embedding model from a Hugging Face encoder directory: tokenizer, BERT encoder, pooling.
///
/// Reproduces sentence-transformers' `SentenceTransformer.encode` for BERT checkpoints.
public final class SentenceEncoder: @unchecked Sendable {
    public let directory: URL
    public let config: BertConfig
    public let tokenizer: WordPieceTokenizer
    public let encoder: BertEncoder
    public let pooling: Pooling
    /// Tokens per sequence after truncation, [CLS] and [SEP] included.
    public let maxLength: Int
    /// Width of an embedding.
    public var dimension: Int { config.hiddenSize }

    /// Loads `config.json`, `model.safetensors`, `tokenizer.json` and the pooling modules of `directory`;
    /// `precision` bf16 runs the linear layers on bf16 operands (needs AVX-512 BF16).
    public init(directory: URL, precision: MatmulPrecision = .f32) throws {
        self.directory = directory
        if precision == .bf16 && !GemmBF16.isSupported {
            throw ModelError.invalidInput("bf16 precision needs a CPU with AVX-512 BF16 (avx512_bf16 in /proc/cpuinfo) "
                + "and this one has none; use f32 precision")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ModelError.missingFile(directory, hint: "give a Hugging Face encoder directory (config.json, model.safetensors, tokenizer.json)")
        }
        config = try BertConfig.load(directory.appendingPathComponent("config.json"))
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            throw ModelError.missingFile(weightsURL, hint: "Dojo reads safetensors weights; convert pytorch_model.bin with safetensors' convert script")
        }
        encoder = try BertEncoder(config: config, weights: try SafeTensorsFile(url: weightsURL), precision: precision)
        let tokenizerURL = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
            throw ModelError.missingFile(tokenizerURL, hint: "the encoder directory needs the fast tokenizer's tokenizer.json")
        }
        tokenizer = try WordPieceTokenizer(url: tokenizerURL)
        guard tokenizer.vocabularySize <= config.vocabSize else {
            throw ModelError.invalidConfig(tokenizerURL, key: "model.vocab",
                reason: "has \(tokenizer.vocabularySize) entries but config.json's vocab_size is \(config.vocabSize)")
        }
        pooling = try Pooling.load(directory: directory)
        maxLength = min(Self.configuredMaxLength(directory) ?? config.maxPositions, config.maxPositions)
    }

    /// sentence-transformers' `max_seq_length` (sentence_bert_config.json), if the directory has one.
    static func configuredMaxLength(_ directory: URL) -> Int? {
        let url = directory.appendingPathComponent("sentence_bert_config.json")
        guard let data = try? Data(contentsOf: url),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return object["max_seq_length"] as? Int
    }

    /// Loads an adapter and checks that it fits this model.
    public func loadAdapter(_ url: URL) throws -> LoRAAdapter {
        let adapter = try LoRAAdapter(directory: url)
        try adapter.validate(linearShapes: encoder.linearShapes)
        return adapter
    }

    /// A run state for this model on `pool`.
    public func makeState(pool: ThreadPool) -> BertRunState {
        BertRunState(config: config, pool: pool, capacity: 32 * 128)
    }

    /// Token ids (with [CLS]/[SEP]) truncated to `maxLength`.
    public func tokenize(_ text: String) -> (ids: [Int32], truncated: Bool) {
        tokenizer.encode(text, maxLength: maxLength)
    }

    /// Embeds tokenised sequences `batch` at a time; `deliver(i, vector)` receives each in input order.
    /// Batches are packed end to end, so mixed lengths cost only their real tokens.
    public func embed(_ sequences: [[Int32]], batch: Int = 32, state: BertRunState, adapter: LoRAAdapter? = nil,
                      deliver: (Int, UnsafeBufferPointer<Float>) -> Void) {
        let width = dimension
        let vector = UnsafeMutablePointer<Float>.allocate(capacity: width)
        defer { vector.deallocate() }
        let rank = adapter?.pairs.values.map(\.rank).max() ?? 0
        var start = 0
        while start < sequences.count {
            let end = min(start + max(batch, 1), sequences.count)
            state.load(Array(sequences[start..<end]), adapterRank: rank)
            encoder.forward(state, adapter: adapter)
            for s in 0..<(end - start) {
                let rows = state.rows(of: s)
                pooling.pool(state.hidden + rows.lowerBound * width, rows: rows.count, width: width, into: vector)
                deliver(start + s, UnsafeBufferPointer(start: vector, count: width))
            }
            start = end
        }
    }

    /// Convenience: embeddings of `texts` as arrays, in order.
    public func embed(_ texts: [String], batch: Int = 32, pool: ThreadPool, adapter: LoRAAdapter? = nil) -> [[Float]] {
        let ids = texts.map { tokenize($0).ids }
        var out = [[Float]](repeating: [], count: texts.count)
        embed(ids, batch: batch, state: makeState(pool: pool), adapter: adapter) { i, v in out[i] = Array(v) }
        return out
    }
}
