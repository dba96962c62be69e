// BERT-family encoder, following Hugging Face transformers' `BertModel` (modeling_bert.py):
// embeddings (word + absolute position + token type) → LayerNorm → N × [self-attention →
// add & norm → GELU feed-forward → add & norm]. Sequences of a batch are packed end to end,
// so no compute is spent on padding; attention runs per sequence.
import Foundation
import Kernels

/// A linear layer `y = x·Wᵀ + b` whose weight is a view into the checkpoint.
public struct Linear: @unchecked Sendable {
    public let name: String         // module name, e.g. "encoder.layer.0.attention.self.query"
    public let weight: FloatTensor  // [out, in]
    public let bias: FloatTensor?   // [out]
    /// The weight rounded to bf16 and packed, when the encoder runs in bf16.
    let packed: BF16Weight?
    public var outFeatures: Int { weight.shape[0] }
    public var inFeatures: Int { weight.shape[1] }

    /// y[rows, out] = x[rows, in]·Wᵀ + b, then `+= scale·(x·Aᵀ)·Bᵀ` for an adapter that targets this layer.
    @inline(__always)
    func apply(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>,
               adapter: LoRAAdapter?, loraScratch: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        if let packed {
            GemmBF16.matmulTransposed(m: rows, a: x, lda: inFeatures, weight: packed, c: y, ldc: outFeatures,
                                      bias: bias?.pointer, pool: pool)
        } else {
            Gemm.matmulTransposed(m: rows, n: outFeatures, k: inFeatures, a: x, lda: inFeatures,
                                  b: weight.pointer, ldb: inFeatures, c: y, ldc: outFeatures,
                                  bias: bias?.pointer, pool: pool)
        }
        // The adapter's product stays float32 in both precisions: rank 8 costs little.
        guard let adapter, let lora = adapter.pair(for: name) else { return }
        let r = lora.rank
        Gemm.matmulTransposed(m: rows, n: r, k: inFeatures, a: x, lda: inFeatures,
                              b: lora.a.pointer, ldb: inFeatures, c: loraScratch, ldc: r, pool: pool)
        Gemm.matmulTransposed(m: rows, n: outFeatures, k: r, a: loraScratch, lda: r,
                              b: lora.b.pointer, ldb: r, c: y, ldc: outFeatures,
                              alpha: lora.scale * adapter.userScale, accumulate: true, pool: pool)
    }
}

/// The encoder's weights and its forward pass.
public final class BertEncoder: @unchecked Sendable {
    struct Layer {
        let query, key, value: Linear    // [hidden, hidden]
        let attentionOut: Linear         // [hidden, hidden]
        let attentionNormWeight, attentionNormBias: FloatTensor  // [hidden]
        let intermediate: Linear         // [intermediate, hidden]
        let output: Linear               // [hidden, intermediate]
        let outputNormWeight, outputNormBias: FloatTensor        // [hidden]
    }

    public let config: BertConfig
    /// Arithmetic of the linear layers (attention, norms and activations are float32 in both).
    public let precision: MatmulPrecision
    let wordEmbeddings: FloatTensor      // [vocab, hidden]
    let positionEmbeddings: FloatTensor  // [maxPositions, hidden]
    let tokenTypeEmbeddings: FloatTensor // [typeVocab, hidden]
    let embeddingNormWeight, embeddingNormBias: FloatTensor  // [hidden]
    let layers: [Layer]
    /// Keeps the mapped checkpoint alive while weights point into it.
    let file: SafeTensorsFile

    /// Loads the weights named as `BertModel` saves them (with or without a `bert.` prefix);
    /// bf16 also packs a bf16 copy of every linear weight (the caller checks the CPU has AVX-512 BF16).
    public init(config: BertConfig, weights file: SafeTensorsFile, precision: MatmulPrecision = .f32) throws {
        self.config = config
        self.precision = precision
        self.file = file
        let prefix = file.info("bert.embeddings.word_embeddings.weight") != nil ? "bert." : ""
        let h = config.hiddenSize, inter = config.intermediateSize
        func tensor(_ name: String, _ shape: [Int]) throws -> FloatTensor { try file.floats(prefix + name, shape: shape) }
        func linear(_ name: String, out: Int, in: Int) throws -> Linear {
            let weight = try tensor(name + ".weight", [out, `in`])
            return Linear(name: name, weight: weight, bias: try tensor(name + ".bias", [out]),
                          packed: precision == .bf16 ? BF16Weight(weight.pointer, ldb: `in`, n: out, k: `in`) : nil)
        }
        wordEmbeddings = try tensor("embeddings.word_embeddings.weight", [config.vocabSize, h])
        positionEmbeddings = try tensor("embeddings.position_embeddings.weight", [config.maxPositions, h])
        tokenTypeEmbeddings = try tensor("embeddings.token_type_embeddings.weight", [config.typeVocabSize, h])
        embeddingNormWeight = try tensor("embeddings.LayerNorm.weight", [h])
        embeddingNormBias = try tensor("embeddings.LayerNorm.bias", [h])
        layers = try (0..<config.layers).map { i in
            let p = "encoder.layer.\(i)."
            return Layer(
                query: try linear(p + "attention.self.query", out: h, in: h),
                key: try linear(p + "attention.self.key", out: h, in: h),
                value: try linear(p + "attention.self.value", out: h, in: h),
                attentionOut: try linear(p + "attention.output.dense", out: h, in: h),
                attentionNormWeight: try tensor(p + "attention.output.LayerNorm.weight", [h]),
                attentionNormBias: try tensor(p + "attention.output.LayerNorm.bias", [h]),
                intermediate: try linear(p + "intermediate.dense", out: inter, in: h),
                output: try linear(p + "output.dense", out: h, in: inter),
                outputNormWeight: try tensor(p + "output.LayerNorm.weight", [h]),
                outputNormBias: try tensor(p + "output.LayerNorm.bias", [h]))
        }
    }

    /// Every linear layer's [out, in] by module name, for checking adapters.
    public var linearShapes: [String: (out: Int, in: Int)] {
        var shapes: [String: (out: Int, in: Int)] = [:]
        for l in layers {
            for lin in [l.query, l.key, l.value, l.attentionOut, l.intermediate, l.output] {
                shapes[lin.name] = (lin.outFeatures, lin.inFeatures)
            }
        }
        return shapes
    }

    /// Runs the packed batch `state.tokens` (sequences end to end, boundaries in `state.offsets`)
    /// and leaves the last hidden states in `state.hidden` [totalTokens, hidden].
    public func forward(_ state: BertRunState, adapter: LoRAAdapter? = nil) {
        let h = config.hiddenSize, inter = config.intermediateSize
        let heads = config.heads, headDim = h / heads
        let t = state.tokenCount, sequences = state.sequenceCount
        let pool = state.pool
        let eps = config.layerNormEps
        let scale = 1 / Float(headDim).squareRoot()
        let x = state.hidden, q = state.q, k = state.k, v = state.v
        let context = state.context, tmp = state.tmp, ffn = state.ffn
        let loraScratch = state.loraScratch

        // embeddings: word + position (restarting at each sequence) + token type 0, then LayerNorm
        let offsets = state.offsets, tokens = state.tokens
        for s in 0..<sequences {
            for p in 0..<(offsets[s + 1] - offsets[s]) {
                let row = offsets[s] + p
                let word = wordEmbeddings.pointer + Int(tokens[row]) * h
                let position = positionEmbeddings.pointer + p * h
                let type = tokenTypeEmbeddings.pointer
                let out = x + row * h
                for j in 0..<h { out[j] = word[j] + position[j] + type[j] }
            }
        }
        layerNorm(x, residual: nil, embeddingNormWeight, embeddingNormBias, eps: eps, rows: t, width: h, pool: pool)

        for layer in layers {
            // qkv projections (LoRA applies here when the adapter targets them)
            layer.query.apply(x, rows: t, into: q, adapter: adapter, loraScratch: loraScratch, pool: pool)
            layer.key.apply(x, rows: t, into: k, adapter: adapter, loraScratch: loraScratch, pool: pool)
            layer.value.apply(x, rows: t, into: v, adapter: adapter, loraScratch: loraScratch, pool: pool)

            // self-attention per sequence and head; packed sequences need no padding mask
            pool.parallelFor(sequences * heads) { index, worker in
                let s = index / heads, head = index % heads
                let start = offsets[s], length = offsets[s + 1] - offsets[s]
                let base = start * h + head * headDim
                Attention.selfAttention(q: q + base, k: k + base, v: v + base, ld: h,
                                        out: context + base, ldOut: h, length: length, validLength: length,
                                        headDim: headDim, scale: scale, scratch: state.attentionScratch(worker))
            }

            // attention output projection, residual, LayerNorm
            layer.attentionOut.apply(context, rows: t, into: tmp, adapter: adapter, loraScratch: loraScratch, pool: pool)
            layerNorm(tmp, residual: x, layer.attentionNormWeight, layer.attentionNormBias, eps: eps, rows: t, width: h,
                      pool: pool, out: x)

            // feed-forward: GELU(x·W1ᵀ + b1)·W2ᵀ + b2, residual, LayerNorm
            layer.intermediate.apply(x, rows: t, into: ffn, adapter: adapter, loraScratch: loraScratch, pool: pool)
            let chunk = 64
            pool.parallelFor((t + chunk - 1) / chunk) { c, _ in
                let rows = min(chunk, t - c * chunk)
                Activation.gelu(ffn + c * chunk * inter, count: rows * inter)
            }
            layer.output.apply(ffn, rows: t, into: tmp, adapter: adapter, loraScratch: loraScratch, pool: pool)
            layerNorm(tmp, residual: x, layer.outputNormWeight, layer.outputNormBias, eps: eps, rows: t, width: h,
                      pool: pool, out: x)
        }
    }

    /// LayerNorm over row chunks on the pool; `out` defaults to in place.
    private func layerNorm(_ x: UnsafeMutablePointer<Float>, residual: UnsafeMutablePointer<Float>?,
                           _ gamma: FloatTensor, _ beta: FloatTensor, eps: Float, rows: Int, width: Int,
                           pool: ThreadPool, out: UnsafeMutablePointer<Float>? = nil) {
        let destination = out ?? x
        let chunk = 64
        pool.parallelFor((rows + chunk - 1) / chunk) { c, _ in
            let start = c * chunk, n = min(chunk, rows - start)
            Norm.layerNorm(x + start * width, residual: residual.map { UnsafePointer($0 + start * width) },
                           gamma: gamma.pointer, beta: beta.pointer, eps: eps, rows: n, cols: width,
                           out: destination + start * width)
        }
    }
}

/// Every activation buffer of one forward pass, sized once and reused for every batch.
public final class BertRunState {
    public let pool: ThreadPool
    let hiddenSize, intermediateSize, headDim: Int
    private(set) var maxRank = 0
    public private(set) var capacity = 0       // tokens the buffers hold
    private(set) var maxSequenceLength = 0

    public private(set) var tokenCount = 0
    public private(set) var sequenceCount = 0
    var tokens: UnsafeMutablePointer<Int32>    // [capacity]
    var offsets: UnsafeMutablePointer<Int>     // [capacity + 1]
    public private(set) var hidden: UnsafeMutablePointer<Float>  // [capacity, hidden]
    var q, k, v, context, tmp: UnsafeMutablePointer<Float>       // [capacity, hidden]
    var ffn: UnsafeMutablePointer<Float>                          // [capacity, intermediate]
    var loraScratch: UnsafeMutablePointer<Float>                  // [capacity, maxRank]
    var attention: UnsafeMutablePointer<Float>                    // [threads, attentionStride]
    var attentionStride = 0

    public init(config: BertConfig, pool: ThreadPool, capacity: Int = 4096, maxRank: Int = 16) {
        self.pool = pool
        hiddenSize = config.hiddenSize
        intermediateSize = config.intermediateSize
        headDim = config.hiddenSize / config.heads
        tokens = .allocate(capacity: 1); offsets = .allocate(capacity: 1)
        hidden = .allocate(capacity: 1); q = .allocate(capacity: 1); k = .allocate(capacity: 1)
        v = .allocate(capacity: 1); context = .allocate(capacity: 1); tmp = .allocate(capacity: 1)
        ffn = .allocate(capacity: 1); loraScratch = .allocate(capacity: 1); attention = .allocate(capacity: 1)
        reserve(tokens: capacity, longestSequence: min(capacity, config.maxPositions), rank: maxRank)
    }

    deinit { release() }

    private func release() {
        for p in [hidden, q, k, v, context, tmp, ffn, loraScratch, attention] { p.deallocate() }
        tokens.deallocate(); offsets.deallocate()
    }

    /// Grows the buffers when a batch needs more than they hold (the only allocation on the hot path).
    func reserve(tokens needed: Int, longestSequence: Int, rank: Int) {
        if needed <= capacity && longestSequence <= maxSequenceLength && rank <= maxRank { return }
        release()
        capacity = max(needed, capacity)
        maxSequenceLength = max(longestSequence, maxSequenceLength)
        maxRank = max(rank, maxRank)
        let c = max(capacity, 1)
        tokens = .allocate(capacity: c)
        offsets = .allocate(capacity: c + 1)
        hidden = .allocate(capacity: c * hiddenSize)
        q = .allocate(capacity: c * hiddenSize); k = .allocate(capacity: c * hiddenSize)
        v = .allocate(capacity: c * hiddenSize); context = .allocate(capacity: c * hiddenSize)
        tmp = .allocate(capacity: c * hiddenSize)
        ffn = .allocate(capacity: c * intermediateSize)
        loraScratch = .allocate(capacity: c * maxRank)
        attentionStride = Attention.scratchCount(length: max(maxSequenceLength, 1), headDim: headDim)
        attention = .allocate(capacity: attentionStride * pool.threads)
    }

    @inline(__always)
    func attentionScratch(_ worker: Int) -> UnsafeMutablePointer<Float> { attention + worker * attentionStride }

    /// Packs sequences of token ids end to end for the next forward pass.
    public func load(_ sequences: [[Int32]], adapterRank rank: Int = 0) {
        let total = sequences.reduce(0) { $0 + $1.count }
        reserve(tokens: total, longestSequence: sequences.map(\.count).max() ?? 0, rank: rank)
        var row = 0
        offsets[0] = 0
        for (s, ids) in sequences.enumerated() {
            for id in ids { tokens[row] = id; row += 1 }
            offsets[s + 1] = row
        }
        tokenCount = total
        sequenceCount = sequences.count
    }

    /// Row range of sequence `s` in `hidden`.
    public func rows(of s: Int) -> Range<Int> { offsets[s]..<offsets[s + 1] }
}
