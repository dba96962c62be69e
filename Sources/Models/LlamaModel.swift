// Llama-family decoder, following llama.cpp's llama graph (`llm_build_llama`, b4748) and Hugging
// Face's `LlamaForCausalLM`: token embedding → N × [RMSNorm → attention (RoPE, grouped-query,
// causal over the KV cache) → residual → RMSNorm → SwiGLU feed-forward → residual] → RMSNorm →
// output head (tied to the embedding when `output.weight` is absent). A batch is a list of
// (sequence slot, position, token) rows from any number of sequences; logits are computed only
// for the rows that ask for them.
import Foundation
import Kernels

/// A projection `y = x·Wᵀ (+ b)` whose weight stays in its GGUF blocks inside the mapped file.
public struct QuantLinear: @unchecked Sendable {
    public let name: String            // GGUF tensor name, e.g. "blk.0.attn_q.weight"
    let weight: GGUFTensor             // [out, in]: `out` rows of GGML blocks (GGUF dims [in, out])
    let bias: UnsafePointer<Float>?    // [out] (Qwen2's QKV biases), f32 in the file
    public let outFeatures: Int
    public let inFeatures: Int

    /// y[rows, out] (+)= x[rows, in]·Wᵀ + b, then `+= scale·(x·Aᵀ)·Bᵀ` for an adapter that targets
    /// this weight (llama.cpp's `build_lora_mm`). Base weights are never modified.
    @inline(__always)
    func apply(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
               accumulate: Bool = false, adapter: DecoderLoRA?, loraScratch: UnsafeMutablePointer<Float>,
               pool: ThreadPool) {
        quantizedMatmul(m: rows, n: outFeatures, k: inFeatures, x: x, ldx: ldx, weights: weight.pointer,
                        type: weight.type, y: y, ldy: ldy, accumulate: accumulate, pool: pool)
        finish(x, ldx: ldx, rows: rows, into: y, ldy: ldy, adapter: adapter, loraScratch: loraScratch, pool: pool)
    }

    /// The weight as QuantMatmul's input to a shared-input group, when its format allows one.
    func shared(into y: UnsafeMutablePointer<Float>, ldy: Int) -> QuantMatmul.SharedInputProjection? {
        guard let format = QuantFormat(rawValue: Int(weight.type.rawValue)), QuantMatmul.canShareInput(format) else { return nil }
        return QuantMatmul.SharedInputProjection(weights: weight.pointer, format: format, n: outFeatures, y: y, ldy: ldy)
    }

    /// A projection and where its output goes, for `applyShared`.
    typealias Target = (linear: QuantLinear, y: UnsafeMutablePointer<Float>, ldy: Int)

    /// Two or three projections of the same rows (q, k, v; gate, up) with one activation
    /// quantization and one parallel loop when their formats allow it, else one by one.
    static func applyShared(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, _ a: Target, _ b: Target, _ c: Target? = nil,
                            adapter: DecoderLoRA?, loraScratch: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        if rows > 0, a.linear.inFeatures == b.linear.inFeatures, c.map({ $0.linear.inFeatures == a.linear.inFeatures }) ?? true,
           let pa = a.linear.shared(into: a.y, ldy: a.ldy), let pb = b.linear.shared(into: b.y, ldy: b.ldy) {
            let pc = c.flatMap { $0.linear.shared(into: $0.y, ldy: $0.ldy) }
            if c == nil || pc != nil {
                QuantMatmul.matmulShared(m: rows, k: a.linear.inFeatures, x: x, ldx: ldx, pa, pb, pc, pool: pool)
                func finish(_ t: Target) {
                    t.linear.finish(x, ldx: ldx, rows: rows, into: t.y, ldy: t.ldy, adapter: adapter, loraScratch: loraScratch, pool: pool)
                }
                finish(a); finish(b); if let c { finish(c) }
                return
            }
        }
        func apply(_ t: Target) {
            t.linear.apply(x, ldx: ldx, rows: rows, into: t.y, ldy: t.ldy, adapter: adapter, loraScratch: loraScratch, pool: pool)
        }
        apply(a); apply(b); if let c { apply(c) }
    }

    /// Adds the bias and the adapter's low-rank term to y = x·Wᵀ.
    @inline(__always)
    func finish(_ x: UnsafePointer<Float>, ldx: Int, rows: Int, into y: UnsafeMutablePointer<Float>, ldy: Int,
                adapter: DecoderLoRA?, loraScratch: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        if let bias {
            for r in 0..<rows {
                let yr = y + r * ldy
                for j in 0..<outFeatures { yr[j] += bias[j] }
            }
        }
        guard let adapter, let lora = adapter.pair(for: name) else { return }
        let r = lora.rank
        Gemm.matmulTransposed(m: rows, n: r, k: inFeatures, a: x, lda: ldx, b: lora.a, ldb: inFeatures,
                              c: loraScratch, ldc: r, pool: pool)
        Gemm.matmulTransposed(m: rows, n: outFeatures, k: r, a: loraScratch, lda: r, b: lora.b, ldb: r,
                              c: y, ldc: ldy, alpha: lora.scale * adapter.userScale, accumulate: true, pool: pool)
    }
}

/// y[m×n] (+)= x[m×k]·Wᵀ with W's n rows in GGML blocks of `type`. The one place the decoder
/// multiplies by a quantized weight: Kernels' QuantMatmul (activations quantized to the weight's Q8
/// partner once per row, as ggml does; GGMLType ids are QuantFormat's raw values).
@inline(__always)
func quantizedMatmul(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int, weights: UnsafeRawPointer,
                     type: GGMLType, y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool, pool: ThreadPool) {
    QuantMatmul.matmul(m: m, n: n, k: k, x: x, ldx: ldx, weights: weights, format: QuantFormat(rawValue: Int(type.rawValue))!,
                       y: y, ldy: ldy, accumulate: accumulate, pool: pool)
}

/// A Llama-family model: config, weights (views into the mapped GGUF file), forward pass.
public final class LlamaModel: @unchecked Sendable {
    struct Layer {
        let attentionNorm: UnsafePointer<Float>  // [dim]
        let wq: QuantLinear                      // [dim, dim]
        let wk: QuantLinear                      // [kvDim, dim]
        let wv: QuantLinear                      // [kvDim, dim]
        let wo: QuantLinear                      // [dim, dim]
        let ffnNorm: UnsafePointer<Float>        // [dim]
        let gate: QuantLinear                    // [hiddenDim, dim]
        let up: QuantLinear                      // [hiddenDim, dim]
        let down: QuantLinear                    // [dim, hiddenDim]
    }

    public let config: LlamaConfig
    public let file: GGUFFile
    public let tokenizer: BPETokenizer
    let tokenEmbedding: GGUFTensor               // [vocab, dim] rows of GGML blocks
    let layers: [Layer]
    let outputNorm: UnsafePointer<Float>         // [dim]
    let output: QuantLinear                      // [vocab, dim]; token_embd when tied
    let thetaScale: Float                        // base^(-2/ropeDimensions), ggml's theta_scale

    /// The tensor types the forward pass can multiply by.
    static let weightTypes: [GGMLType] = [.f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q4_K, .q5_K, .q6_K]

    /// Maps and checks the model at `path`: config from metadata, every tensor by name, shape and type.
    public convenience init(path: String) throws {
        try self.init(file: GGUFFile(path: path))
    }

    public init(file: GGUFFile) throws {
        let config = try LlamaConfig(gguf: file)
        self.config = config
        self.file = file
        tokenizer = try BPETokenizer(gguf: file)
        let dim = config.dim, kvDim = config.kvDim, hidden = config.hiddenDim, vocab = config.vocabSize

        func norm(_ name: String) throws -> UnsafePointer<Float> {
            try file.tensor(named: name, dims: [dim], types: [.f32]).pointer.assumingMemoryBound(to: Float.self)
        }
        func linear(_ name: String, out: Int, in: Int, bias: Bool = false) throws -> QuantLinear {
            let w = try file.tensor(named: name + ".weight", dims: [`in`, out], types: Self.weightTypes)
            let b = bias ? try file.tensor(named: name + ".bias", dims: [out], types: [.f32]).pointer.assumingMemoryBound(to: Float.self) : nil
            return QuantLinear(name: name + ".weight", weight: w, bias: b, outFeatures: out, inFeatures: `in`)
        }
        tokenEmbedding = try file.tensor(named: "token_embd.weight", dims: [dim, vocab], types: Self.weightTypes)
        layers = try (0..<config.layers).map { i in
            let p = "blk.\(i)."
            return Layer(attentionNorm: try norm(p + "attn_norm.weight"),
                         wq: try linear(p + "attn_q", out: dim, in: dim, bias: config.qkvBias),
                         wk: try linear(p + "attn_k", out: kvDim, in: dim, bias: config.qkvBias),
                         wv: try linear(p + "attn_v", out: kvDim, in: dim, bias: config.qkvBias),
                         wo: try linear(p + "attn_output", out: dim, in: dim),
                         ffnNorm: try norm(p + "ffn_norm.weight"),
                         gate: try linear(p + "ffn_gate", out: hidden, in: dim),
                         up: try linear(p + "ffn_up", out: hidden, in: dim),
                         down: try linear(p + "ffn_down", out: dim, in: hidden))
        }
        outputNorm = try norm("output_norm.weight")
        if file.info(named: "output.weight") != nil {
            output = try linear("output", out: vocab, in: dim)
        } else {
            output = QuantLinear(name: "output.weight", weight: tokenEmbedding, bias: nil, outFeatures: vocab, inFeatures: dim)
        }
        // θ_i = base^(-2i/d) by repeated multiplication with powf(base, -2/n_dims), as ggml does.
        thetaScale = powf(config.ropeFreqBase, -2 / Float(config.ropeDimensions))
    }

    /// Every projection's [out, in] by GGUF weight name, for checking adapters.
    public var linearShapes: [String: (out: Int, in: Int)] {
        var shapes: [String: (out: Int, in: Int)] = [:]
        for l in layers {
            for lin in [l.wq, l.wk, l.wv, l.wo, l.gate, l.up, l.down] { shapes[lin.name] = (lin.outFeatures, lin.inFeatures) }
        }
        return shapes
    }

    /// A run state for up to `slots` sequences of `context` positions and `batchTokens` rows per pass.
    public func makeState(slots: Int, context: Int? = nil, batchTokens: Int = 512, logitRows: Int? = nil,
                          maxAdapterRank: Int = 64, pool: ThreadPool) -> LlamaRunState {
        LlamaRunState(config: config, slots: slots, context: min(context ?? config.contextLength, config.contextLength),
                      batchTokens: batchTokens, logitRows: logitRows ?? max(slots, 1), maxAdapterRank: maxAdapterRank, pool: pool)
    }

    /// Runs the rows loaded into `state` (see `LlamaRunState.add`), writing their keys and values into
    /// the slots' caches, and leaves logits for the rows that asked in `state.logits(_:)`.
    public func forward(_ state: LlamaRunState, adapter: DecoderLoRA? = nil) {
        let dim = config.dim, kvDim = config.kvDim, hidden = config.hiddenDim, vocab = config.vocabSize
        let heads = config.heads, kvHeads = config.kvHeads, headDim = config.headDim, group = config.groupSize
        let t = state.rowCount, pool = state.pool, eps = config.normEps
        let scale = 1 / Float(headDim).squareRoot()
        let x = state.x, xb = state.xb, q = state.q, k = state.k, v = state.v
        let attention = state.attention, hb = state.hb, hb2 = state.hb2, lora = state.loraScratch
        let cache = state.cache
        if t == 0 { return }

        // token embedding: one row dequantised per token
        let embeddingRowBytes = tokenEmbedding.type.byteCount(elements: dim)!
        for r in 0..<t {
            try! Dequantize.row(tokenEmbedding.type, tokenEmbedding.pointer + Int(state.tokens[r]) * embeddingRowBytes,
                                count: dim, into: x + r * dim)
        }
        // rope angles for each row's position, shared by every layer
        state.prepareRope(thetaScale: thetaScale, frequencyScale: config.ropeFrequencyScale)

        for (l, layer) in layers.enumerated() {
            // attention norm
            rmsNorm(x, weight: layer.attentionNorm, rows: t, dim: dim, eps: eps, out: xb)

            // qkv
            QuantLinear.applyShared(xb, ldx: dim, rows: t, (layer.wq, q, dim), (layer.wk, k, kvDim), (layer.wv, v, kvDim),
                                    adapter: adapter, loraScratch: lora, pool: pool)

            // rope on q and k, then k and v into each row's slot of the cache
            for r in 0..<t {
                let ropeStyle = config.ropeStyle
                state.rotate(q + r * dim, row: r, heads: heads, headDim: headDim, style: ropeStyle)
                state.rotate(k + r * kvDim, row: r, heads: kvHeads, headDim: headDim, style: ropeStyle)
                let slot = Int(state.slots[r]), position = Int(state.positions[r])
                let kc = cache.keys(slot: slot, layer: l) + position, keyStride = cache.keyStride
                let vc = cache.values(slot: slot, layer: l) + position * kvDim
                for i in 0..<kvDim { kc[i * keyStride] = Float16(k[r * kvDim + i]); vc[i] = Float16(v[r * kvDim + i]) }
            }

            // causal grouped-query attention over the slot's f16 cache: query head h reads KV head h / group,
            // in llama.cpp's arithmetic (see `attendHead`)
            pool.parallelFor(t * heads) { index, worker in
                let r = index / heads, h = index % heads
                let slot = Int(state.slots[r]), length = Int(state.positions[r]) + 1
                // llama.cpp runs a one-token batch through ggml_vec_dot_f16, longer ones through tinyBLAS
                let kernel: AttentionKernel = state.rowsPerSlot[slot] == 1 ? .vecDot(keyCount: min(cache.context, (length + 31) & ~31)) : .tinyBLAS
                let kvOffset = (h / group) * headDim
                let scratch = pool.scratch(worker: worker, count: attentionScratch(headDim: headDim, length: length))
                attendHead(q: q + r * dim + h * headDim, keys: UnsafePointer(cache.keys(slot: slot, layer: l)) + kvOffset * cache.keyStride,
                           keyStride: cache.keyStride, values: UnsafePointer(cache.values(slot: slot, layer: l)) + kvOffset, stride: kvDim,
                           length: length, headDim: headDim, scale: scale, kernel: kernel, scratch: scratch,
                           out: attention + r * dim + h * headDim)
            }

            // output projection, residual
            layer.wo.apply(attention, ldx: dim, rows: t, into: x, ldy: dim, accumulate: true, adapter: adapter, loraScratch: lora, pool: pool)

            // ffn norm
            rmsNorm(x, weight: layer.ffnNorm, rows: t, dim: dim, eps: eps, out: xb)

            // swiglu ffn: down(silu(gate(x)) * up(x)), residual
            QuantLinear.applyShared(xb, ldx: dim, rows: t, (layer.gate, hb, hidden), (layer.up, hb2, hidden),
                                    adapter: adapter, loraScratch: lora, pool: pool)
            siluMultiply(hb, hb2, count: t * hidden)
            layer.down.apply(hb, ldx: hidden, rows: t, into: x, ldy: dim, accumulate: true, adapter: adapter, loraScratch: lora, pool: pool)
        }

        // final norm and output head, only for the rows that want logits
        let wanted = state.logitRowCount
        if wanted == 0 { return }
        for i in 0..<wanted {
            rmsNorm(x + Int(state.logitRowIndex[i]) * dim, weight: outputNorm, rows: 1, dim: dim, eps: eps, out: xb + i * dim)
        }
        output.apply(xb, ldx: dim, rows: wanted, into: state.logitsBuffer, ldy: vocab, adapter: adapter, loraScratch: lora, pool: pool)
    }
}

/// Every buffer of one forward pass and the KV cache, sized once at load and reused for every batch.
public final class LlamaRunState: @unchecked Sendable {
    public let pool: ThreadPool
    public let cache: KVCache
    /// Rows one forward pass takes.
    public let batchTokens: Int
    /// Rows of one pass that may ask for logits.
    public let maxLogitRows: Int
    public let vocabSize: Int
    let ropePairs: Int

    public private(set) var rowCount = 0
    public private(set) var logitRowCount = 0
    let tokens: UnsafeMutablePointer<Int32>          // [batchTokens]
    let positions: UnsafeMutablePointer<Int32>       // [batchTokens]
    let slots: UnsafeMutablePointer<Int32>           // [batchTokens]
    let logitRowIndex: UnsafeMutablePointer<Int32>   // [maxLogitRows] rows that want logits, in order
    let rowsPerSlot: UnsafeMutablePointer<Int32>     // [slots] rows of each slot in this batch
    let x: UnsafeMutablePointer<Float>               // [batchTokens, dim] residual stream
    let xb: UnsafeMutablePointer<Float>              // [max(batchTokens, maxLogitRows), dim] normed
    let q: UnsafeMutablePointer<Float>               // [batchTokens, dim]
    let k: UnsafeMutablePointer<Float>               // [batchTokens, kvDim]
    let v: UnsafeMutablePointer<Float>               // [batchTokens, kvDim]
    let attention: UnsafeMutablePointer<Float>       // [batchTokens, dim]
    let hb: UnsafeMutablePointer<Float>              // [batchTokens, hiddenDim]
    let hb2: UnsafeMutablePointer<Float>             // [batchTokens, hiddenDim]
    let loraScratch: UnsafeMutablePointer<Float>     // [max(batchTokens, maxLogitRows), maxAdapterRank]
    let ropeCos: UnsafeMutablePointer<Float>         // [batchTokens, ropeDimensions / 2]
    let ropeSin: UnsafeMutablePointer<Float>         // [batchTokens, ropeDimensions / 2]
    let logitsBuffer: UnsafeMutablePointer<Float>    // [maxLogitRows, vocab]
    private var buffers: [UnsafeMutableRawPointer] = []

    init(config c: LlamaConfig, slots: Int, context: Int, batchTokens: Int, logitRows: Int, maxAdapterRank: Int, pool: ThreadPool) {
        precondition(slots > 0 && context > 0 && batchTokens > 0 && logitRows > 0, "empty run state")
        self.pool = pool
        self.batchTokens = batchTokens
        self.maxLogitRows = logitRows
        vocabSize = c.vocabSize
        ropePairs = c.ropeDimensions / 2
        cache = KVCache(slots: slots, layers: c.layers, context: context, kvDim: c.kvDim)
        var buffers: [UnsafeMutableRawPointer] = []
        func floats(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            buffers.append(UnsafeMutableRawPointer(p))
            return p
        }
        func ints(_ n: Int) -> UnsafeMutablePointer<Int32> {
            let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
            buffers.append(UnsafeMutableRawPointer(p))
            return p
        }
        let rows = max(batchTokens, logitRows)
        tokens = ints(batchTokens); positions = ints(batchTokens); self.slots = ints(batchTokens)
        logitRowIndex = ints(logitRows)
        rowsPerSlot = ints(slots)
        rowsPerSlot.update(repeating: 0, count: slots)
        x = floats(batchTokens * c.dim); xb = floats(rows * c.dim)
        q = floats(batchTokens * c.dim); k = floats(batchTokens * c.kvDim); v = floats(batchTokens * c.kvDim)
        attention = floats(batchTokens * c.dim)
        hb = floats(batchTokens * c.hiddenDim); hb2 = floats(batchTokens * c.hiddenDim)
        loraScratch = floats(rows * maxAdapterRank)
        ropeCos = floats(batchTokens * ropePairs); ropeSin = floats(batchTokens * ropePairs)
        logitsBuffer = floats(logitRows * c.vocabSize)
        self.buffers = buffers
        // Size each thread's scratch once (attention scores, dequantised weight rows).
        pool.parallelFor(pool.threads) { _, worker in _ = pool.scratch(worker: worker, count: max(attentionScratch(headDim: c.headDim, length: context), 32 * max(c.dim, c.hiddenDim))) }
    }

    deinit { for b in buffers { b.deallocate() } }

    /// Slots and positions per slot this state holds.
    public var slotCount: Int { cache.slots }
    public var context: Int { cache.context }

    /// Empties the batch.
    public func clear() {
        for r in 0..<rowCount { rowsPerSlot[Int(slots[r])] = 0 }
        rowCount = 0
        logitRowCount = 0
    }

    /// Whether another row (wanting logits or not) fits in this pass.
    public func hasRoom(logits: Bool) -> Bool {
        rowCount < batchTokens && (!logits || logitRowCount < maxLogitRows)
    }

    /// Adds a row: `token` at `position` of the sequence in `slot`. Rows of one slot must come in
    /// position order and every earlier position must be in the cache or earlier in the batch.
    /// Returns the row's index among the logit rows when `logits` is true.
    @discardableResult
    public func add(token: Int32, position: Int, slot: Int, logits: Bool) -> Int? {
        precondition(rowCount < batchTokens, "batch full")
        precondition(slot >= 0 && slot < cache.slots && position >= 0 && position < cache.context, "slot or position outside the cache")
        tokens[rowCount] = token
        positions[rowCount] = Int32(position)
        slots[rowCount] = Int32(slot)
        rowsPerSlot[slot] += 1
        var index: Int?
        if logits {
            precondition(logitRowCount < maxLogitRows, "too many logit rows")
            logitRowIndex[logitRowCount] = Int32(rowCount)
            index = logitRowCount
            logitRowCount += 1
        }
        rowCount += 1
        return index
    }

    /// The logits of the i-th row that asked for them: [vocab].
    public func logits(_ i: Int) -> UnsafeMutablePointer<Float> { logitsBuffer + i * vocabSize }

    /// cos and sin of each row's angles, as ggml_rope_cache_init makes them: θ starts at the
    /// position and is multiplied by `thetaScale` pair after pair in float (not p·base^(-2i/d),
    /// which differs in the last bits); the angle is frequencyScale·θ.
    func prepareRope(thetaScale: Float, frequencyScale: Float) {
        for r in 0..<rowCount {
            var theta = Float(positions[r])
            for i in 0..<ropePairs {
                let angle = frequencyScale * theta
                ropeCos[r * ropePairs + i] = cos(angle)
                ropeSin[r * ropePairs + i] = sin(angle)
                theta *= thetaScale
            }
        }
    }

    /// Rotates each head of one row (`heads` × `headDim` floats) by the row's angles.
    @inline(__always)
    func rotate(_ x: UnsafeMutablePointer<Float>, row: Int, heads: Int, headDim: Int, style: RopeStyle) {
        let c = ropeCos + row * ropePairs, s = ropeSin + row * ropePairs
        for h in 0..<heads {
            let xh = x + h * headDim
            for i in 0..<ropePairs {
                // normal: adjacent pairs (2i, 2i+1); neox: (i, i + ropeDimensions/2)
                let a = style == .normal ? 2 * i : i
                let b = style == .normal ? 2 * i + 1 : i + ropePairs
                let x0 = xh[a], x1 = xh[b]
                // ggml's x0·cos - x1·sin and x0·sin + x1·cos as GCC contracts them (first product fused)
                xh[a] = (-(x1 * s[i])).addingProduct(x0, c[i])
                xh[b] = (x1 * c[i]).addingProduct(x0, s[i])
            }
        }
    }
}

// MARK: Small vector helpers (the decoder's own; Kernels holds the shared ones)

/// out[r] = x[r] / sqrt(mean(x[r]²) + eps) · weight, rounded as ggml's rms_norm then mul: float
/// squares summed in double, the mean and scale in float, then (x·scale)·weight.
@inline(__always)
func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float,
             out: UnsafeMutablePointer<Float>) {
    for r in 0..<rows {
        let xr = x + r * dim, o = out + r * dim
        var sum = 0.0
        for i in 0..<dim { sum += Double(xr[i] * xr[i]) }
        let mean = Float(sum / Double(dim))
        let s = 1 / (mean + eps).squareRoot()
        for i in 0..<dim { o[i] = (xr[i] * s) * weight[i] }
    }
}

/// a[i] = silu(a[i]) · b[i], silu as ggml_vec_silu_f32 computes it: x / (1 + e^-x) with ggml's
/// vector exp for whole groups of 16 and the C library's expf for the rest.
@inline(__always)
func siluMultiply(_ a: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count {
        let x = loadFloats(a + i)
        storeFloats(x / (1 + ggmlExp(-x)) * loadFloats(b + i), a + i)
        i += 16
    }
    while i < count {
        let g = a[i]
        a[i] = g / (1 + expf(-g)) * b[i]
        i += 1
    }
}

@inline(__always)
func loadFloats(_ p: UnsafePointer<Float>) -> SIMD16<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }

@inline(__always)
func storeFloats(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// Sum of 16 lanes in _mm512_reduce_add_ps's order: (i, i+8), (i, i+4), (i, i+2), (0, 1).
@inline(__always)
func reduceAdd(_ v: SIMD16<Float>) -> Float {
    let h8 = v.lowHalf + v.highHalf
    let h4 = h8.lowHalf + h8.highHalf
    let h2 = h4.lowHalf + h4.highHalf
    return h2[0] + h2[1]
}

/// e^x as ggml's AVX-512 `ggml_v_expf` computes it (a polynomial after range reduction, within
/// 1.5 ulp of expf, bit-identical to llama.cpp's softmax and SiLU on this CPU family).
@inline(__always)
func ggmlExp(_ x: SIMD16<Float>) -> SIMD16<Float> {
    @inline(__always) func c(_ v: Float) -> SIMD16<Float> { SIMD16(repeating: v) }
    let r = c(0x1.8p23)
    let z = r.addingProduct(x, c(0x1.715476p+0))
    let n = z - r
    let b = x.addingProduct(-n, c(0x1.62e4p-1)).addingProduct(-n, c(0x1.7f7d1cp-20))
    let u = b * b
    let high = c(0x1.573e2ep-5).addingProduct(c(0x1.0e4020p-7), b)
    let low = c(0x1.fffdb6p-2).addingProduct(c(0x1.555e66p-3), b)
    let j = c(1).addingProduct(c(0x1.ffffecp-1), b).addingProduct(low.addingProduct(high, u), u)
    // the usual case, every exponent in the normal range: scale by 2^n through the exponent bits
    let inRange = (n .>= c(-125)) .& (n .<= c(127))
    if all(inRange) {
        // z = 1.5·2²³ + n exactly, so its bits are 0x4B40_0000 + n (Swift's float-to-int vector
        // conversion is a slow generic loop)
        let exponent = unsafeBitCast(z, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let scale = unsafeBitCast((exponent &+ 127) &<< 23, to: SIMD16<Float>.self)
        return j * scale
    }
    var result = SIMD16<Float>()
    for i in 0..<16 {
        let e = n[i]
        if e >= -125 && e <= 127 {
            result[i] = j[i] * Float(bitPattern: UInt32(Int32(e) + 127) << 23)
        } else if e.isNaN {
            result[i] = e
        } else if abs(e) > 192 {
            result[i] = e > 0 ? .infinity : 0
        } else {
            result[i] = Float(sign: .plus, exponent: Int(e), significand: j[i])   // vscalefps
        }
    }
    return result
}

/// Scratch floats `attendHead` needs.
@inline(__always)
public func attentionScratch(headDim: Int, length: Int) -> Int { headDim + (length + 64) + 64 * headDim }

/// One query head over `length` cached positions, in the arithmetic of llama.cpp's CPU graph
/// without flash attention (b4748):
/// - KQ: q rounded to f16, then tinyBLAS's f16 × f16 kernel: lane l an fma chain over dimensions
///   l, l+16, …, then _mm512_reduce_add_ps;
/// - softmax: s·scale, minus the max, `ggml_v_expf` in groups of 16 (masked positions give 0),
///   each group's reduce_add summed in double, then every value times Float(1/sum);
/// - KQV: the probabilities rounded to f16, tinyBLAS f16 × f16 again: per output 16 lanes, lane l
///   an fma chain over positions l, l+16, …, then reduce_add.
/// (Checked value for value against llama.cpp's intermediate tensors.)
/// Keys are transposed: dimension d of position j at keys[d * keyStride + j], keyStride a multiple
/// of 16 with readable (never used) positions up to it; values are rows: values[j * stride + d].
@inline(__always)
public func attendHead(q: UnsafePointer<Float>, keys: UnsafePointer<Float16>, keyStride: Int, values: UnsafePointer<Float16>, stride: Int,
                length: Int, headDim: Int, scale: Float, kernel: AttentionKernel, scratch: UnsafeMutablePointer<Float>,
                out: UnsafeMutablePointer<Float>) {
    let qh = scratch, scores = scratch + headDim, lanes = scores + (length + 64)
    for d in 0..<headDim { qh[d] = Float(Float16(q[d])) }
    // Sixteen keys at a time: the keys are stored transposed, so dimension i of sixteen
    // consecutive positions is one vector, and each of ggml's per-key lanes becomes a vector
    // over the keys; reduceLanes then folds the lanes in reduce_add's order for all sixteen.
    // Positions past `length` in the last group compute garbage that is never stored.
    let full = headDim & ~15
    var j0 = 0
    while j0 < length {
        @inline(__always) func key(_ i: Int) -> SIMD16<Float> { halves(keys + i * keyStride + j0) }
        var sums = SIMD16<Float>()
        if case .vecDot = kernel {
            // ggml_vec_dot_f16: per block of 64 dimensions, four 16-lane accumulators (dimension
            // 64c + 16a + l feeds accumulator a, lane l), folded (0+2)+(1+3), reduce_add; the
            // dimensions past the last block of 64 summed in double.
            let np = headDim & ~63
            if np > 0 {
                for l in 0..<16 {
                    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                    var c = 0
                    while c < np {
                        a0 = a0.addingProduct(SIMD16(repeating: qh[c + l]), key(c + l))
                        a1 = a1.addingProduct(SIMD16(repeating: qh[c + 16 + l]), key(c + 16 + l))
                        a2 = a2.addingProduct(SIMD16(repeating: qh[c + 32 + l]), key(c + 32 + l))
                        a3 = a3.addingProduct(SIMD16(repeating: qh[c + 48 + l]), key(c + 48 + l))
                        c += 64
                    }
                    storeFloats((a0 + a2) + (a1 + a3), lanes + 16 * l)
                }
                reduceLanes(lanes, headDim: 16, into: lanes)
                sums = loadFloats(lanes)
            }
            for j in 0..<min(16, length - j0) {
                var sum = np > 0 ? Double(sums[j]) : 0
                for i in np..<headDim { sum += Double(qh[i] * Float(keys[i * keyStride + j0 + j])) }
                scores[j0 + j] = Float(sum) * scale
            }
        } else {
            // tinyBLAS's f16 kernel: lane l chains fma over dimensions l, l+16, …; reduce_add;
            // then the dimensions past the last 16 one at a time
            if full > 0 {
                for l in 0..<16 {
                    var a = SIMD16<Float>()
                    var i = l
                    while i < full { a = a.addingProduct(SIMD16(repeating: qh[i]), key(i)); i += 16 }
                    storeFloats(a, lanes + 16 * l)
                }
                reduceLanes(lanes, headDim: 16, into: lanes)
                sums = loadFloats(lanes)
            }
            for i in full..<headDim { sums += SIMD16(repeating: qh[i]) * key(i) }
            let scaled = sums * SIMD16(repeating: scale)
            for j in 0..<min(16, length - j0) { scores[j0 + j] = scaled[j] }
        }
        j0 += 16
    }
    var maxScore = -Float.infinity
    for j in 0..<length { maxScore = max(maxScore, scores[j]) }
    let padded = (length + 15) & ~15
    for j in length..<padded { scores[j] = -.infinity }
    var total = 0.0
    var j = 0
    while j < padded {
        let e = ggmlExp(loadFloats(scores + j) - SIMD16(repeating: maxScore))
        storeFloats(e, scores + j)
        total += Double(reduceAdd(e))
        j += 16
    }
    let inverse = Float(1 / total)
    for j in 0..<length { scores[j] *= inverse }
    if case .vecDot(let keyCount) = kernel {
        // ggml_vec_dot_f16 over keyCount (the cache cells llama.cpp attends, padded to 32; the
        // positions past `length` are masked to 0): four 16-lane accumulators per block of 64,
        // the tail summed in double.
        let np = keyCount & ~63
        for j in 0..<length { scores[j] = Float(Float16(scores[j])) }
        // Per output dimension d, ggml keeps four accumulators of 16 lanes: position p feeds
        // accumulator (p % 64) / 16, lane p % 16, an fma chain in position order; then lane l is
        // (a0 + a2) + (a1 + a3) and the 16 lanes are summed by reduceAdd. Here one lane at a time,
        // 16 dimensions at a time, the four accumulators in registers; folded[l] holds lane l for
        // every d.
        let folded = lanes
        let simdEnd = min(np, length)
        for l in 0..<16 {
            var d = 0
            while d < headDim {
                if d + 16 <= headDim {
                    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
                    @inline(__always) func feed(_ a: inout SIMD16<Float>, _ p: Int) {
                        if p < simdEnd { a = a.addingProduct(halves(values + p * stride + d), SIMD16(repeating: scores[p])) }
                    }
                    var base = 0
                    while base < simdEnd {
                        feed(&a0, base + l); feed(&a1, base + 16 + l); feed(&a2, base + 32 + l); feed(&a3, base + 48 + l)
                        base += 64
                    }
                    storeFloats((a0 + a2) + (a1 + a3), folded + l * headDim + d)
                    d += 16
                } else {
                    var a: [Float] = [0, 0, 0, 0]
                    var p = l
                    while p < simdEnd {
                        a[(p & 63) >> 4] = a[(p & 63) >> 4].addingProduct(Float(values[p * stride + d]), scores[p])
                        p += 16
                    }
                    folded[l * headDim + d] = (a[0] + a[2]) + (a[1] + a[3])
                    d += 1
                }
            }
        }
        reduceLanes(folded, headDim: headDim, into: out)
        // the tail in double, position after position, sixteen dimensions at a time (the
        // product rounded to float, then widened and added, as ggml's scalar loop does)
        var d = 0
        while d < headDim {
            if d + 16 <= headDim {
                var low = SIMD8<Double>(), high = SIMD8<Double>()
                if np > 0 {
                    low = SIMD8<Double>(UnsafeRawPointer(out + d).loadUnaligned(as: SIMD8<Float>.self))
                    high = SIMD8<Double>(UnsafeRawPointer(out + d + 8).loadUnaligned(as: SIMD8<Float>.self))
                }
                var p = np
                while p < length {
                    let product = halves(values + p * stride + d) * SIMD16<Float>(repeating: scores[p])
                    low += SIMD8<Double>(product.lowHalf)
                    high += SIMD8<Double>(product.highHalf)
                    p += 1
                }
                storeFloats(SIMD16<Float>(lowHalf: SIMD8<Float>(low), highHalf: SIMD8<Float>(high)), out + d)
                d += 16
            } else {
                var sum = np > 0 ? Double(out[d]) : 0
                var p = np
                while p < length { sum += Double(Float(values[p * stride + d]) * scores[p]); p += 1 }
                out[d] = Float(sum)
                d += 1
            }
        }
        return
    }
    // lanes[l][d]: the fma chain of lane l (positions l, l+16, …) for every output dimension d,
    // kept in a register for 16 dimensions at a time
    for j in 0..<length { scores[j] = Float(Float16(scores[j])) }
    for l in 0..<16 {
        var d = 0
        while d + 16 <= headDim {
            var a = SIMD16<Float>()
            var j = l
            while j < length { a = a.addingProduct(halves(values + j * stride + d), SIMD16(repeating: scores[j])); j += 16 }
            storeFloats(a, lanes + l * headDim + d)
            d += 16
        }
        while d < headDim {
            var a: Float = 0
            var j = l
            while j < length { a = a.addingProduct(Float(values[j * stride + d]), scores[j]); j += 16 }
            lanes[l * headDim + d] = a
            d += 1
        }
    }
    reduceLanes(lanes, headDim: headDim, into: out)
}

/// out[d] = reduceAdd of lanes[0..<16][d] for every d, in reduceAdd's order ((l, l+8), (l, l+4),
/// (l, l+2), (0, 1)), 16 dimensions at a time. Overwrites lanes.
@inline(__always)
func reduceLanes(_ lanes: UnsafeMutablePointer<Float>, headDim: Int, into out: UnsafeMutablePointer<Float>) {
    var width = 8
    while width >= 1 {
        for l in 0..<width {
            let a = lanes + l * headDim, b = lanes + (l + width) * headDim
            var d = 0
            while d + 16 <= headDim { storeFloats(loadFloats(a + d) + loadFloats(b + d), a + d); d += 16 }
            while d < headDim { a[d] += b[d]; d += 1 }
        }
        width /= 2
    }
    out.update(from: lanes, count: headDim)
}

/// How llama.cpp multiplies in attention for a row (see `attendHead`).
public enum AttentionKernel {
    /// tinyBLAS's f16 × f16 tiles (batches of more than one token).
    case tinyBLAS
    /// ggml_vec_dot_f16 (a one-token batch), over `keyCount` cache cells.
    case vecDot(keyCount: Int)
}

/// ggml_vec_dot_f16 of an f16-valued float row with an f16 row: per block of 64 four 16-lane fma
/// accumulators, folded (0+2)+(1+3), reduce_add; the tail summed in double.
@inline(__always)
func vecDotHalf(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float16>, count: Int) -> Float {
    let np = count & ~63
    var sum = 0.0
    if np > 0 {
        var s0 = SIMD16<Float>.zero, s1 = SIMD16<Float>.zero, s2 = SIMD16<Float>.zero, s3 = SIMD16<Float>.zero
        var i = 0
        while i < np {
            s0 = s0.addingProduct(loadFloats(x + i), halves(y + i))
            s1 = s1.addingProduct(loadFloats(x + i + 16), halves(y + i + 16))
            s2 = s2.addingProduct(loadFloats(x + i + 32), halves(y + i + 32))
            s3 = s3.addingProduct(loadFloats(x + i + 48), halves(y + i + 48))
            i += 64
        }
        sum = Double(reduceAdd((s0 + s2) + (s1 + s3)))
    }
    for i in np..<count { sum += Double(x[i] * Float(y[i])) }
    return Float(sum)
}

/// Sixteen f16 values as floats. Converted eight at a time: Swift 6.3 leaves the 16-wide
/// conversion as an out-of-line call (vzeroupper and register spills around every key).
@inline(__always)
func halves(_ p: UnsafePointer<Float16>) -> SIMD16<Float> {
    let h = UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float16>.self)
    return SIMD16<Float>(lowHalf: SIMD8<Float>(h.lowHalf), highHalf: SIMD8<Float>(h.highHalf))
}

