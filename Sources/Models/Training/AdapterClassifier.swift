// AdapterClassifier: inference with a classification adapter — the encoder with the adapter's
// LoRA pairs applied at the matmul, mean pooling without normalisation (as the head was trained),
// then the head from `modules_to_save` (classifier.weight [labels, hidden], classifier.bias).
// Works for adapters trained by Dojo and by PEFT alike (same LoRAAdapter loading path).
import Foundation
import Kernels

public final class AdapterClassifier {
    public let model: SentenceEncoder
    public let adapter: LoRAAdapter
    public let labels: [String]
    public let maxLength: Int
    let weight: FloatTensor   // [labels, hidden]
    let bias: FloatTensor?    // [labels]

    /// `maxLength` defaults to 128, the length `dojo finetune` trains at.
    public init(model: SentenceEncoder, adapter: LoRAAdapter, maxLength: Int = 128) throws {
        let url = adapter.directory.appendingPathComponent("adapter_model.safetensors")
        guard let w = adapter.savedTensors["classifier.weight"] ?? adapter.savedTensors["classifier.dense.weight"] else {
            throw ModelError.adapter(url, "has no classification head (classifier.weight in modules_to_save); it is not a SEQ_CLS adapter")
        }
        guard w.shape.count == 2, w.shape[1] == model.dimension else {
            throw ModelError.adapterShape(url, tensor: "classifier.weight", expected: [w.shape.first ?? 0, model.dimension], found: w.shape)
        }
        let b = adapter.savedTensors["classifier.bias"]
        if let b, b.shape != [w.shape[0]] {
            throw ModelError.adapterShape(url, tensor: "classifier.bias", expected: [w.shape[0]], found: b.shape)
        }
        self.model = model
        self.adapter = adapter
        weight = w
        bias = b
        labels = adapter.labels.count == w.shape[0] ? adapter.labels : (0..<w.shape[0]).map { "LABEL_\($0)" }
        self.maxLength = min(maxLength, model.maxLength)
    }

    /// Loads the adapter directory through SentenceEncoder.loadAdapter.
    public convenience init(model: SentenceEncoder, adapterDirectory: URL, maxLength: Int = 128) throws {
        try self.init(model: model, adapter: try model.loadAdapter(adapterDirectory), maxLength: maxLength)
    }

    /// Class probabilities for each text.
    public func probabilities(_ texts: [String], batch: Int = 32, pool: ThreadPool) -> [[Float]] {
        let sequences = texts.map { model.tokenizer.encode($0, maxLength: maxLength).ids }
        let state = model.makeState(pool: pool)
        let h = model.dimension, c = weight.shape[0]
        let rank = adapter.pairs.values.map(\.rank).max() ?? 0
        var pooled = [Float](repeating: 0, count: h)
        var out: [[Float]] = []
        var start = 0
        while start < sequences.count {
            let end = min(start + max(batch, 1), sequences.count)
            state.load(Array(sequences[start..<end]), adapterRank: rank)
            model.encoder.forward(state, adapter: adapter)
            for s in 0..<(end - start) {
                let rows = state.rows(of: s)
                Pooling(mode: .mean, normalize: false).pool(state.hidden + rows.lowerBound * h, rows: rows.count, width: h, into: &pooled)
                var logits = [Float](repeating: 0, count: c)
                for j in 0..<c {
                    var sum = bias?.pointer[j] ?? 0
                    let row = weight.pointer + j * h
                    for i in 0..<h { sum += row[i] * pooled[i] }
                    logits[j] = sum
                }
                let m = logits.max() ?? 0
                var total: Float = 0
                for j in 0..<c { logits[j] = Foundation.exp(logits[j] - m); total += logits[j] }
                out.append(logits.map { $0 / total })
            }
            start = end
        }
        return out
    }

    /// The most likely label and its probability for each text.
    public func predict(_ texts: [String], batch: Int = 32, pool: ThreadPool) -> [(label: String, score: Float)] {
        probabilities(texts, batch: batch, pool: pool).map { p in
            var best = 0
            for j in 1..<p.count where p[j] > p[best] { best = j }
            return (labels[best], p[best])
        }
    }
}
