import Foundation
import Kernels
import Models

/// The real text model behind the task protocols: the encoder (with an optional LoRA adapter), reading
/// texts of any length as overlapping windows of the model's context.
///
/// A text longer than `maxLength` tokens is split into windows of `maxLength − 2` word pieces that
/// overlap by `overlap`; each window is encoded with its own [CLS]/[SEP] and mean-pooled, and the
/// pooled vectors are averaged weighted by their token counts (`cut` says so). Past `maxWindows`
/// windows the rest of the text is not read and the result says `truncated`.
public final class EncoderTextModel: TextEmbedder {
    public let encoder: SentenceEncoder
    public let adapter: LoRAAdapter?
    let state: BertRunState
    let batch: Int
    let overlap: Int
    let maxWindows: Int
    /// The directory's pooling mode without normalisation: the vector a PEFT head reads.
    let rawPooling: Pooling

    public init(encoder: SentenceEncoder, adapter: LoRAAdapter?, pool: ThreadPool, batch: Int = 32,
                overlap: Int = 32, maxWindows: Int = 64) {
        self.encoder = encoder
        self.adapter = adapter
        self.state = encoder.makeState(pool: pool)
        self.batch = max(batch, 1)
        self.overlap = max(0, min(overlap, (encoder.maxLength - 2) / 2))
        self.maxWindows = max(maxWindows, 1)
        self.rawPooling = Pooling(mode: encoder.pooling.mode, normalize: false)
    }

    /// Un-normalised pooled vectors (window-averaged), with cut/truncated/tokens.
    public func pooled(_ texts: [String]) -> [EmbeddedText] {
        let special = encoder.tokenizer.specialTokenCount
        let window = max(encoder.maxLength - special, 1)
        let stride = max(window - overlap, 1)
        let budget = window + (maxWindows - 1) * stride + special
        let prefix = encoder.tokenizer.prefixIds, suffix = encoder.tokenizer.suffixIds

        // Windows of every text, and which text each belongs to.
        var sequences: [[Int32]] = [], owner: [Int] = []
        var results = [EmbeddedText](repeating: EmbeddedText(vector: []), count: texts.count)
        for (t, text) in texts.enumerated() {
            let (ids, truncated) = encoder.tokenizer.encode(text, maxLength: budget)
            let body = Array(ids[prefix.count..<(ids.count - suffix.count)])
            results[t].truncated = truncated
            results[t].cut = body.count > window
            var start = 0
            repeat {
                let end = min(start + window, body.count)
                sequences.append(prefix + body[start..<end] + suffix)
                owner.append(t)
                if end == body.count { break }
                start += stride
            } while true
        }

        let width = encoder.dimension
        var sums = [[Float]](repeating: [Float](repeating: 0, count: width), count: texts.count)
        var weights = [Float](repeating: 0, count: texts.count)
        let vector = UnsafeMutablePointer<Float>.allocate(capacity: width)
        defer { vector.deallocate() }
        let rank = adapter?.pairs.values.map(\.rank).max() ?? 0
        var start = 0
        while start < sequences.count {
            let end = min(start + batch, sequences.count)
            state.load(Array(sequences[start..<end]), adapterRank: rank)
            encoder.encoder.forward(state, adapter: adapter)
            for s in 0..<(end - start) {
                let rows = state.rows(of: s)
                rawPooling.pool(state.hidden + rows.lowerBound * width, rows: rows.count, width: width, into: vector)
                let t = owner[start + s], w = Float(rows.count)
                for j in 0..<width { sums[t][j] += w * vector[j] }
                weights[t] += w
                results[t].tokens += rows.count
            }
            start = end
        }
        for t in texts.indices {
            let inv = 1 / max(weights[t], 1)
            results[t].vector = sums[t].map { $0 * inv }
        }
        return results
    }

    /// Unit vectors for cosine similarity.
    public func embed(_ texts: [String]) -> [EmbeddedText] {
        var out = pooled(texts)
        for i in out.indices { VectorMath.normalize(&out[i].vector) }
        return out
    }
}
