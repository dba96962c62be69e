// BertTrainer: LoRA + classification-head training of a frozen BERT encoder, following PEFT's
// LoraModel on transformers' BertModel (dropout on the LoRA input, y += (α/r)·B·A·drop(x)) with a
// linear head on the mean-pooled, unnormalised last hidden states. In training, the frozen encoder
// runs as BertModel does in train mode when asked (hidden dropout after the embeddings and after
// each layer's two output projections, dropout on the attention probabilities). The forward pass mirrors
// BertEncoder.forward on packed batches, keeping what the backward pass needs (TrainingState);
// the backward pass is written out by hand, layer by layer, top to bottom: no autograd graph.
// Only input gradients flow through the frozen weights (dX = dY·W); weight gradients exist for
// the LoRA pairs and the head only. Layer 0's input gradient is never computed (embeddings are frozen).
import Foundation
import Kernels

public final class BertTrainer {
    /// The projections of a BERT layer LoRA can target, by their module-name suffix.
    public enum Projection: String, CaseIterable, Sendable {
        case query = "attention.self.query", key = "attention.self.key", value = "attention.self.value"
        case attentionOut = "attention.output.dense", intermediate = "intermediate.dense", output = "output.dense"
    }

    public let encoder: BertEncoder
    public let parameters: TrainableParameters
    /// Dropout on the LoRA input.
    public let dropout: Float
    /// The base model's training-mode dropouts (hidden_dropout_prob, attention_probs_dropout_prob); 0 = off.
    public let hiddenDropout: Float, attentionDropout: Float
    /// Label smoothing ε of the cross-entropy (0 = one-hot targets).
    public let labelSmoothing: Float
    /// Weight w of a teacher's probabilities in the target, (1 − w)·onehot + w·teacher, when a step is given them.
    public let distilWeight: Float
    public let seed: UInt64
    public let pool: ThreadPool
    let state: TrainingState
    private var moduleTable: [Int: TrainableParameters.Module] = [:]
    /// Bumped at the start of each training step; seeds that step's dropout masks (tests pin it).
    public var dropoutStep: UInt64 = 0

    /// Resolves PEFT-style target names ("query", "value", "attention.output.dense", "dense") to the
    /// encoder's projections: a module matches when its name is the target or ends in "." + target.
    public static func resolveTargets(_ targets: [String], config: BertConfig) throws -> [(name: String, layer: Int, kind: Projection, out: Int, in: Int)] {
        var result: [(name: String, layer: Int, kind: Projection, out: Int, in: Int)] = []
        var used = Set<String>()
        for l in 0..<config.layers {
            for kind in Projection.allCases {
                let name = "encoder.layer.\(l).\(kind.rawValue)"
                guard let t = targets.first(where: { name == $0 || name.hasSuffix("." + $0) }) else { continue }
                used.insert(t)
                let h = config.hiddenSize, inter = config.intermediateSize
                let (out, inF) = kind == .intermediate ? (inter, h) : kind == .output ? (h, inter) : (h, h)
                result.append((name, l, kind, out, inF))
            }
        }
        if let missing = targets.first(where: { !used.contains($0) }) {
            throw ModelError.invalidInput("target module '\(missing)' does not exist in this model; its projections are "
                + Projection.allCases.map(\.rawValue).joined(separator: ", ") + " (a suffix such as 'query' or 'dense' matches)")
        }
        if result.isEmpty { throw ModelError.invalidInput("no target modules given; use e.g. query,value") }
        return result
    }

    public init(encoder: BertEncoder, labels: Int, targets: [String], rank: Int, alpha: Float, dropout: Float,
                hiddenDropout: Float = 0, attentionDropout: Float = 0, headLearningRate: Float = 1,
                labelSmoothing: Float = 0, distilWeight: Float = 0, batch: Int, maxLength: Int, seed: UInt64,
                pool: ThreadPool) throws {
        guard rank >= 1, rank <= 256 else { throw ModelError.invalidInput("rank \(rank) is outside 1...256") }
        for (name, p) in [("dropout", dropout), ("hidden dropout", hiddenDropout), ("attention dropout", attentionDropout)]
        where !(p >= 0 && p < 1) {
            throw ModelError.invalidInput("\(name) \(p) is outside [0, 1)")
        }
        guard headLearningRate > 0, headLearningRate.isFinite else {
            throw ModelError.invalidInput("head learning-rate multiplier \(headLearningRate) must be a positive number")
        }
        guard labelSmoothing >= 0, labelSmoothing < 1 else {
            throw ModelError.invalidInput("label smoothing \(labelSmoothing) is outside [0, 1)")
        }
        guard distilWeight >= 0, distilWeight <= 1 else {
            throw ModelError.invalidInput("distillation weight \(distilWeight) is outside [0, 1]")
        }
        guard labels >= 2 else { throw ModelError.invalidInput("a classifier needs at least 2 labels; found \(labels)") }
        guard maxLength >= 2, maxLength <= encoder.config.maxPositions else {
            throw ModelError.invalidInput("max length \(maxLength) is outside 2...\(encoder.config.maxPositions) (the model's positions)")
        }
        self.encoder = encoder
        self.dropout = dropout
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.labelSmoothing = labelSmoothing
        self.distilWeight = distilWeight
        self.seed = seed
        self.pool = pool
        let resolved = try Self.resolveTargets(targets, config: encoder.config)
        parameters = TrainableParameters(targets: resolved, rank: rank, alpha: alpha, labels: labels,
                                         hidden: encoder.config.hiddenSize, seed: seed, headRate: headLearningRate)
        state = TrainingState(config: encoder.config, modules: parameters.modules, labels: labels,
                              batch: batch, maxLength: maxLength, threads: pool.threads)
        for m in parameters.modules { moduleTable[key(m.layer, m.kind)] = m }
    }

    private func key(_ layer: Int, _ kind: Projection) -> Int { layer * 8 + Projection.allCases.firstIndex(of: kind)! }

    public var batchCapacity: Int { state.batchCapacity }
    public var maxLength: Int { state.maxLength }

    // MARK: - Steps

    /// One forward and backward pass over a batch: leaves gradients in `parameters.gradients`, returns the mean loss.
    /// `soft`, a teacher's probabilities per sequence (in label order), enter the target with weight `distilWeight`.
    public func computeGradients(_ sequences: ArraySlice<[Int32]>, labels: ArraySlice<Int32>, soft: ArraySlice<[Float]>? = nil) -> Float {
        precondition(soft.map { $0.count == sequences.count && $0.allSatisfy { $0.count == parameters.labels } } ?? true)
        state.load(sequences, labels: labels, soft: soft)
        dropoutStep += 1
        forward(train: true)
        let loss = headForwardBackward()
        backward()
        return loss
    }

    /// Class probabilities [sequences, labels], without dropout, `batchCapacity` sequences at a time.
    public func predict(_ sequences: ArraySlice<[Int32]>) -> [[Float]] {
        let c = parameters.labels
        var out: [[Float]] = []
        out.reserveCapacity(sequences.count)
        var lo = sequences.startIndex
        while lo < sequences.endIndex {
            let hi = min(lo + state.batchCapacity, sequences.endIndex)
            state.load(sequences[lo..<hi], labels: nil)
            forward(train: false)
            headForward()
            for s in 0..<state.sequenceCount {
                var row = Array(UnsafeBufferPointer(start: state.logits + s * c, count: c))
                let m = row.max() ?? 0
                var sum: Float = 0
                for j in 0..<c { row[j] = Foundation.exp(row[j] - m); sum += row[j] }
                out.append(row.map { $0 / sum })
            }
            lo = hi
        }
        return out
    }

    // MARK: - Forward

    func forward(train: Bool) {
        let config = encoder.config
        let h = config.hiddenSize, inter = config.intermediateSize
        let heads = config.heads, headDim = h / heads
        let t = state.tokenCount, sequences = state.sequenceCount
        let eps = config.layerNormEps
        let scale = 1 / Float(headDim).squareRoot()
        let x = state.hidden, ctx = state.context, tmp = state.tmp, ffn = state.ffn
        let offsets = state.offsets

        // embeddings: word + position + token type 0, LayerNorm (frozen: nothing kept)
        let word = encoder.wordEmbeddings.pointer, position = encoder.positionEmbeddings.pointer
        let type = encoder.tokenTypeEmbeddings.pointer
        for s in 0..<sequences {
            for p in 0..<(offsets[s + 1] - offsets[s]) {
                let row = offsets[s] + p
                let w = word + Int(state.tokens[row]) * h, pos = position + p * h, out = x + row * h
                for j in 0..<h { out[j] = w[j] + pos[j] + type[j] }
            }
        }
        let eg = encoder.embeddingNormWeight.pointer, eb = encoder.embeddingNormBias.pointer
        rowChunks(t) { r0, n in Norm.layerNorm(x + r0 * h, residual: nil, gamma: eg, beta: eb, eps: eps, rows: n, cols: h, out: x + r0 * h) }
        let hidden = train && hiddenDropout > 0, attentionMasks = train && attentionDropout > 0
        if hidden { applyDropout(key: Self.embeddingKey, p: hiddenDropout, source: x, destination: x, rows: t, cols: h) }

        for (l, layer) in encoder.layers.enumerated() {
            let saved = state.layers[l]
            // qkv (+ LoRA)
            project(layer.query, .query, layer: l, input: x, rows: t, out: saved.q, train: train)
            project(layer.key, .key, layer: l, input: x, rows: t, out: saved.k, train: train)
            project(layer.value, .value, layer: l, input: x, rows: t, out: saved.v, train: train)
            // self-attention per sequence and head
            let q = saved.q, k = saved.k, v = saved.v
            let attentionSeed = dropoutSeed(Self.attentionKey + UInt64(l))
            let pa = attentionDropout
            pool.parallelFor(sequences * heads) { index, worker in
                let s = index / heads, head = index % heads
                let start = offsets[s], length = offsets[s + 1] - offsets[s]
                let base = start * h + head * headDim
                let scratch = self.state.attentionScratch + worker * self.state.attentionStride
                if attentionMasks {
                    Backward.selfAttentionForward(q: q + base, k: k + base, v: v + base, ld: h, out: ctx + base, ldOut: h,
                                                  length: length, headDim: headDim, scale: scale, dropout: pa,
                                                  seed: Self.headSeed(attentionSeed, index), scratch: scratch)
                } else {
                    Attention.selfAttention(q: q + base, k: k + base, v: v + base, ld: h, out: ctx + base, ldOut: h,
                                            length: length, validLength: length, headDim: headDim, scale: scale, scratch: scratch)
                }
            }
            // attention output, residual, LayerNorm (keeping x̂, 1/σ)
            project(layer.attentionOut, .attentionOut, layer: l, input: ctx, rows: t, out: tmp, train: train)
            if hidden { applyDropout(key: Self.hiddenKey(l, 0), p: hiddenDropout, source: tmp, destination: tmp, rows: t, cols: h) }
            let g1 = layer.attentionNormWeight.pointer, b1 = layer.attentionNormBias.pointer
            rowChunks(t) { r0, n in
                Backward.layerNormForward(tmp + r0 * h, residual: x + r0 * h, gamma: g1, beta: b1, eps: eps, rows: n, cols: h,
                                          out: x + r0 * h, normalized: saved.xhat1 + r0 * h, rstd: saved.rstd1 + r0)
            }
            // feed-forward: f = x·W1ᵀ + b1 (kept), GELU, ·W2ᵀ + b2, residual, LayerNorm
            project(layer.intermediate, .intermediate, layer: l, input: x, rows: t, out: saved.f, train: train)
            rowChunks(t) { r0, n in
                (ffn + r0 * inter).update(from: saved.f + r0 * inter, count: n * inter)
                Activation.gelu(ffn + r0 * inter, count: n * inter)
            }
            project(layer.output, .output, layer: l, input: ffn, rows: t, out: tmp, train: train)
            if hidden { applyDropout(key: Self.hiddenKey(l, 1), p: hiddenDropout, source: tmp, destination: tmp, rows: t, cols: h) }
            let g2 = layer.outputNormWeight.pointer, b2 = layer.outputNormBias.pointer
            rowChunks(t) { r0, n in
                Backward.layerNormForward(tmp + r0 * h, residual: x + r0 * h, gamma: g2, beta: b2, eps: eps, rows: n, cols: h,
                                          out: x + r0 * h, normalized: saved.xhat2 + r0 * h, rstd: saved.rstd2 + r0)
            }
        }
    }

    /// out = input·Wᵀ + b, then += (α/r)·(drop(input)·Aᵀ)·Bᵀ when the projection is targeted.
    private func project(_ linear: Linear, _ kind: Projection, layer: Int, input: UnsafeMutablePointer<Float>, rows: Int,
                         out: UnsafeMutablePointer<Float>, train: Bool) {
        let n = linear.outFeatures, k = linear.inFeatures
        Gemm.matmulTransposed(m: rows, n: n, k: k, a: input, lda: k, b: linear.weight.pointer, ldb: k, c: out, ldc: n,
                              bias: linear.bias?.pointer, pool: pool)
        guard let m = moduleTable[key(layer, kind)] else { return }
        var loraInput = UnsafePointer(input)
        if train {
            let kept = state.inputs[m.index]
            if dropout > 0 {
                applyDropout(key: UInt64(m.index), p: dropout, source: input, destination: kept, rows: rows, cols: k)
            } else {
                rowChunks(rows) { r0, count in (kept + r0 * k).update(from: input + r0 * k, count: count * k) }
            }
            loraInput = UnsafePointer(kept)
        }
        let r = m.rank, u = state.u[m.index], values = parameters.values
        Gemm.matmulTransposed(m: rows, n: r, k: k, a: loraInput, lda: k, b: values + m.a, ldb: k, c: u, ldc: r, pool: pool)
        Gemm.matmulTransposed(m: rows, n: n, k: r, a: u, lda: r, b: values + m.b, ldb: r, c: out, ldc: n,
                              alpha: parameters.scale, accumulate: true, pool: pool)
    }

    // Dropout masks: one stream per (seed, step, key) and row, regenerated in the backward pass.
    static let embeddingKey: UInt64 = 1 << 20
    static let attentionKey: UInt64 = 1 << 22
    static func hiddenKey(_ layer: Int, _ site: Int) -> UInt64 { (1 << 21) + UInt64(layer * 2 + site) }
    static func headSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        var g = SplitMix64(seed: seed, UInt64(index))
        return g.next()
    }

    private func dropoutSeed(_ key: UInt64) -> UInt64 {
        var g = SplitMix64(seed: seed, dropoutStep, key)
        return g.next()
    }

    /// destination (= or +=) source ∘ mask / (1 − p), the mask of (step, key); may run in place.
    private func applyDropout(key: UInt64, p: Float, source: UnsafePointer<Float>, destination: UnsafeMutablePointer<Float>,
                              rows: Int, cols: Int, accumulate: Bool = false) {
        let s = dropoutSeed(key)
        rowChunks(rows) { r0, n in
            Backward.dropout(source + r0 * cols, into: destination + r0 * cols, rows: n, cols: cols, firstRow: r0,
                             p: p, seed: s, accumulate: accumulate)
        }
    }

    // MARK: - Head

    /// pooled = mean of each sequence's rows; logits = pooled·Wᵀ + b.
    private func headForward() {
        let h = encoder.config.hiddenSize, c = parameters.labels, s = state.sequenceCount
        for i in 0..<s {
            let start = state.offsets[i], end = state.offsets[i + 1]
            let out = state.pooled + i * h
            out.update(repeating: 0, count: h)
            for r in start..<end { let row = state.hidden + r * h; for j in 0..<h { out[j] += row[j] } }
            let inv = 1 / Float(max(end - start, 1))
            for j in 0..<h { out[j] *= inv }
        }
        Gemm.matmulTransposed(m: s, n: c, k: h, a: state.pooled, lda: h, b: parameters.values + parameters.headWeight, ldb: h,
                              c: state.logits, ldc: c, bias: parameters.values + parameters.headBias, pool: pool)
    }

    /// Loss, head gradients, and dL/dhidden into state.dx.
    private func headForwardBackward() -> Float {
        headForward()
        let h = encoder.config.hiddenSize, c = parameters.labels, s = state.sequenceCount
        let loss = Backward.softmaxCrossEntropy(state.logits, labels: state.labels, batch: s, classes: c,
                                                  smoothing: labelSmoothing, soft: state.hasSoft ? state.soft : nil,
                                                  softWeight: distilWeight, dLogits: state.dlogits)
        let g = parameters.gradients
        Gemm.matmulTransposedA(m: c, n: h, k: s, a: state.dlogits, lda: c, b: state.pooled, ldb: h,
                               c: g + parameters.headWeight, ldc: h, pool: pool)
        for j in 0..<c {
            var sum: Float = 0
            for i in 0..<s { sum += state.dlogits[i * c + j] }
            g[parameters.headBias + j] = sum
        }
        Gemm.matmul(m: s, n: h, k: c, a: state.dlogits, lda: c, b: parameters.values + parameters.headWeight, ldb: h,
                    c: state.dpooled, ldc: h, pool: pool)
        for i in 0..<s {
            let start = state.offsets[i], end = state.offsets[i + 1]
            Backward.meanPool(state.dpooled + i * h, rows: end - start, width: h, into: state.dx + start * h)
        }
        return loss
    }

    // MARK: - Backward

    /// From dL/dhidden (state.dx) down through every layer: LoRA gradients into parameters.gradients.
    func backward() {
        let config = encoder.config
        let h = config.hiddenSize, inter = config.intermediateSize
        let heads = config.heads, headDim = h / heads
        let t = state.tokenCount, sequences = state.sequenceCount
        let scale = 1 / Float(headDim).squareRoot()
        let dx = state.dx, d1 = state.d1, d2 = state.d2, dffn = state.dffn, dctx = state.dctx
        let dq = state.dq, dk = state.dk, dv = state.dv
        let offsets = state.offsets
        let hidden = hiddenDropout > 0, dmask = state.dmask

        for l in stride(from: encoder.layers.count - 1, through: 0, by: -1) {
            let layer = encoder.layers[l], saved = state.layers[l]
            // output LayerNorm: d2 = dL/d(ffn out + residual)
            let g2 = layer.outputNormWeight.pointer
            rowChunks(t) { r0, n in
                Backward.layerNorm(dx + r0 * h, normalized: saved.xhat2 + r0 * h, rstd: saved.rstd2 + r0, gamma: g2,
                                   rows: n, cols: h, dx: d2 + r0 * h)
            }
            // output.dense (through its dropout): dffn = drop(d2)·W2, then through GELU
            let dOutput = hidden ? dmask : d2
            if hidden { applyDropout(key: Self.hiddenKey(l, 1), p: hiddenDropout, source: d2, destination: dmask, rows: t, cols: h) }
            Gemm.matmul(m: t, n: inter, k: h, a: dOutput, lda: h, b: layer.output.weight.pointer, ldb: inter, c: dffn, ldc: inter, pool: pool)
            loraBackward(.output, layer: l, dY: dOutput, rows: t, dx: dffn)
            let f = saved.f
            rowChunks(t) { r0, n in Backward.gelu(f + r0 * inter, gradient: dffn + r0 * inter, count: n * inter) }
            // intermediate.dense: d1 = d2 (residual) + dffn·W1
            rowChunks(t) { r0, n in (d1 + r0 * h).update(from: d2 + r0 * h, count: n * h) }
            Gemm.matmul(m: t, n: h, k: inter, a: dffn, lda: inter, b: layer.intermediate.weight.pointer, ldb: h, c: d1, ldc: h,
                        accumulate: true, pool: pool)
            loraBackward(.intermediate, layer: l, dY: dffn, rows: t, dx: d1)
            // attention LayerNorm: d2 = dL/d(attention out + residual)
            let g1 = layer.attentionNormWeight.pointer
            rowChunks(t) { r0, n in
                Backward.layerNorm(d1 + r0 * h, normalized: saved.xhat1 + r0 * h, rstd: saved.rstd1 + r0, gamma: g1,
                                   rows: n, cols: h, dx: d2 + r0 * h)
            }
            // attention.output.dense (through its dropout): dctx = drop(d2)·Wo
            let dAttention = hidden ? dmask : d2
            if hidden { applyDropout(key: Self.hiddenKey(l, 0), p: hiddenDropout, source: d2, destination: dmask, rows: t, cols: h) }
            Gemm.matmul(m: t, n: h, k: h, a: dAttention, lda: h, b: layer.attentionOut.weight.pointer, ldb: h, c: dctx, ldc: h, pool: pool)
            loraBackward(.attentionOut, layer: l, dY: dAttention, rows: t, dx: dctx)
            // attention: dq, dk, dv per sequence and head
            let q = saved.q, k = saved.k, v = saved.v
            let attentionSeed = dropoutSeed(Self.attentionKey + UInt64(l)), pa = attentionDropout
            pool.parallelFor(sequences * heads) { index, worker in
                let s = index / heads, head = index % heads
                let start = offsets[s], length = offsets[s + 1] - offsets[s]
                let base = start * h + head * headDim
                Backward.selfAttention(q: q + base, k: k + base, v: v + base, ld: h, dOut: dctx + base, ldOut: h,
                                       dq: dq + base, dk: dk + base, dv: dv + base, ldGrad: h, length: length,
                                       headDim: headDim, scale: scale, dropout: pa, seed: Self.headSeed(attentionSeed, index),
                                       scratch: self.state.attentionScratch + worker * self.state.attentionStride)
            }
            // qkv: the layer input's gradient (not needed below layer 0: embeddings are frozen)
            let input: UnsafeMutablePointer<Float>? = l > 0 ? dx : nil
            if let input {
                rowChunks(t) { r0, n in (input + r0 * h).update(from: d2 + r0 * h, count: n * h) }
                Gemm.matmul(m: t, n: h, k: h, a: dq, lda: h, b: layer.query.weight.pointer, ldb: h, c: input, ldc: h, accumulate: true, pool: pool)
                Gemm.matmul(m: t, n: h, k: h, a: dk, lda: h, b: layer.key.weight.pointer, ldb: h, c: input, ldc: h, accumulate: true, pool: pool)
                Gemm.matmul(m: t, n: h, k: h, a: dv, lda: h, b: layer.value.weight.pointer, ldb: h, c: input, ldc: h, accumulate: true, pool: pool)
            }
            loraBackward(.query, layer: l, dY: dq, rows: t, dx: input)
            loraBackward(.key, layer: l, dY: dk, rows: t, dx: input)
            loraBackward(.value, layer: l, dY: dv, rows: t, dx: input)
        }
    }

    /// For y += s·(X·Aᵀ)·Bᵀ with X the kept (dropped-out) input and U = X·Aᵀ:
    /// dB = s·dYᵀ·U, dU = s·dY·B, dA = dUᵀ·X, and dx += drop(dU·A) when dx is given.
    private func loraBackward(_ kind: Projection, layer: Int, dY: UnsafeMutablePointer<Float>, rows: Int,
                              dx: UnsafeMutablePointer<Float>?) {
        guard let m = moduleTable[key(layer, kind)] else { return }
        let r = m.rank, out = m.outFeatures, inF = m.inFeatures, s = parameters.scale
        let values = parameters.values, grads = parameters.gradients
        let x = state.inputs[m.index], u = state.u[m.index], du = state.du, dbt = state.dbt
        // dBᵀ[r, out] = s·Uᵀ·dY, stored as dB[out, r]
        Gemm.matmulTransposedA(m: r, n: out, k: rows, a: u, lda: r, b: dY, ldb: out, c: dbt, ldc: out, alpha: s, pool: pool)
        let gb = grads + m.b
        for o in 0..<out { for j in 0..<r { gb[o * r + j] = dbt[j * out + o] } }
        // dU[rows, r] = s·dY·B
        Gemm.matmul(m: rows, n: r, k: out, a: dY, lda: out, b: values + m.b, ldb: r, c: du, ldc: r, alpha: s, pool: pool)
        // dA[r, in] = dUᵀ·X
        Gemm.matmulTransposedA(m: r, n: inF, k: rows, a: du, lda: r, b: x, ldb: inF, c: grads + m.a, ldc: inF, pool: pool)
        guard let dx else { return }
        if dropout > 0 {
            Gemm.matmul(m: rows, n: inF, k: r, a: du, lda: r, b: values + m.a, ldb: inF, c: state.loraDx, ldc: inF, pool: pool)
            applyDropout(key: UInt64(m.index), p: dropout, source: state.loraDx, destination: dx, rows: rows, cols: inF, accumulate: true)
        } else {
            Gemm.matmul(m: rows, n: inF, k: r, a: du, lda: r, b: values + m.a, ldb: inF, c: dx, ldc: inF, accumulate: true, pool: pool)
        }
    }

    /// body(firstRow, rowCount) over chunks of 32 rows on the pool.
    private func rowChunks(_ rows: Int, _ body: (Int, Int) -> Void) {
        let chunk = 32
        pool.parallelFor((rows + chunk - 1) / chunk) { c, _ in body(c * chunk, min(chunk, rows - c * chunk)) }
    }
}
