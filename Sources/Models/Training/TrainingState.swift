// TrainingState: every buffer one training step needs, sized once from the config, the batch
// size and the maximum length, and reused for every batch (and for evaluation). Per layer it
// keeps only what the backward pass reads: q, k, v (attention is recomputed from them), x̂ and
// 1/σ of both LayerNorms, and the pre-GELU activations; per LoRA module its (dropped-out) input
// and A·x. Everything else is shared scratch.
import Foundation
import Kernels

final class TrainingState {
    struct LayerBuffers {
        let q, k, v: UnsafeMutablePointer<Float>      // [capacity, hidden]
        let xhat1, xhat2: UnsafeMutablePointer<Float> // [capacity, hidden]
        let rstd1, rstd2: UnsafeMutablePointer<Float> // [capacity]
        let f: UnsafeMutablePointer<Float>            // [capacity, intermediate], before GELU
    }

    let capacity: Int          // tokens
    let batchCapacity: Int     // sequences
    let maxLength: Int
    private(set) var tokenCount = 0
    private(set) var sequenceCount = 0
    let tokens: UnsafeMutablePointer<Int32>      // [capacity]
    let offsets: UnsafeMutablePointer<Int>       // [batchCapacity + 1]
    let labels: UnsafeMutablePointer<Int32>      // [batchCapacity]

    let layers: [LayerBuffers]
    let inputs: [UnsafeMutablePointer<Float>]    // per module: [capacity, in], its input after dropout
    let u: [UnsafeMutablePointer<Float>]         // per module: [capacity, rank], input·Aᵀ

    let hidden, context, tmp: UnsafeMutablePointer<Float>   // [capacity, hidden]
    let ffn: UnsafeMutablePointer<Float>                    // [capacity, intermediate]
    let dx, d1, d2, dmask, dctx, dq, dk, dv: UnsafeMutablePointer<Float>  // [capacity, hidden]
    let dffn: UnsafeMutablePointer<Float>                   // [capacity, intermediate]
    let du: UnsafeMutablePointer<Float>                     // [capacity, rank]
    let loraDx: UnsafeMutablePointer<Float>                 // [capacity, max(hidden, intermediate)]
    let dbt: UnsafeMutablePointer<Float>                    // [rank, max(hidden, intermediate)]
    let pooled, dpooled: UnsafeMutablePointer<Float>        // [batchCapacity, hidden]
    let logits, dlogits: UnsafeMutablePointer<Float>        // [batchCapacity, labels]
    let soft: UnsafeMutablePointer<Float>                   // [batchCapacity, labels], a teacher's probabilities
    private(set) var hasSoft = false
    let attentionScratch: UnsafeMutablePointer<Float>       // [threads, attentionStride]
    let attentionStride: Int

    private var allocations: [UnsafeMutableRawPointer] = []

    init(config: BertConfig, modules: [TrainableParameters.Module], labels labelCount: Int,
         batch: Int, maxLength: Int, threads: Int) {
        let h = config.hiddenSize, inter = config.intermediateSize, headDim = h / config.heads
        capacity = max(1, batch * maxLength)
        batchCapacity = max(1, batch)
        self.maxLength = maxLength
        let rank = modules.first?.rank ?? 1
        var allocations: [UnsafeMutableRawPointer] = []
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1) * 4)
            allocations.append(raw)
            return raw.bindMemory(to: Float.self, capacity: max(count, 1))
        }
        let c = capacity
        tokens = .allocate(capacity: c)
        offsets = .allocate(capacity: batchCapacity + 1)
        self.labels = .allocate(capacity: batchCapacity)
        layers = (0..<config.layers).map { _ in
            LayerBuffers(q: floats(c * h), k: floats(c * h), v: floats(c * h), xhat1: floats(c * h), xhat2: floats(c * h),
                         rstd1: floats(c), rstd2: floats(c), f: floats(c * inter))
        }
        inputs = modules.map { floats(c * $0.inFeatures) }
        u = modules.map { floats(c * $0.rank) }
        hidden = floats(c * h); context = floats(c * h); tmp = floats(c * h)
        ffn = floats(c * inter)
        dx = floats(c * h); d1 = floats(c * h); d2 = floats(c * h); dmask = floats(c * h); dctx = floats(c * h)
        dq = floats(c * h); dk = floats(c * h); dv = floats(c * h)
        dffn = floats(c * inter)
        du = floats(c * rank)
        loraDx = floats(c * max(h, inter))
        dbt = floats(rank * max(h, inter))
        pooled = floats(batchCapacity * h); dpooled = floats(batchCapacity * h)
        logits = floats(batchCapacity * labelCount); dlogits = floats(batchCapacity * labelCount)
        soft = floats(batchCapacity * labelCount)
        attentionStride = max(Attention.scratchCount(length: maxLength, headDim: headDim),
                              Backward.attentionScratchCount(length: maxLength, headDim: headDim))
        attentionScratch = floats(threads * attentionStride)
        self.allocations = allocations
    }

    deinit {
        for p in allocations { p.deallocate() }
        tokens.deallocate(); offsets.deallocate(); labels.deallocate()
    }

    /// Packs up to `batchCapacity` sequences (each at most `maxLength` tokens) end to end, with their
    /// labels and, when distilling, the teacher's probabilities.
    func load(_ sequences: ArraySlice<[Int32]>, labels batchLabels: ArraySlice<Int32>?, soft batchSoft: ArraySlice<[Float]>? = nil) {
        precondition(sequences.count <= batchCapacity, "batch larger than the state was sized for")
        var row = 0
        offsets[0] = 0
        for (s, ids) in sequences.enumerated() {
            precondition(ids.count <= maxLength && !ids.isEmpty, "sequence longer than the state's maximum length")
            for id in ids { tokens[row] = id; row += 1 }
            offsets[s + 1] = row
        }
        if let batchLabels { for (s, l) in batchLabels.enumerated() { labels[s] = l } }
        hasSoft = batchSoft != nil
        if let batchSoft {
            for (s, row) in batchSoft.enumerated() { (soft + s * row.count).update(from: row, count: row.count) }
        }
        tokenCount = row
        sequenceCount = sequences.count
    }
}
