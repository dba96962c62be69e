import Foundation
import Models

/// A classification adapter's own head: LoRA-adapted, mean-pooled (not normalised) encoder output →
/// linear layer (`classifier.weight` [labels, hidden], `classifier.bias` [labels]) → softmax,
/// as PEFT's sequence-classification recipe trains it.
public final class HeadClassifier: TextClassifier {
    public let labels: [String]
    let model: EncoderTextModel
    let weight: [Float]  // [labels, hidden]
    let bias: [Float]    // [labels]
    let hidden: Int

    /// Why an adapter cannot classify.
    public struct HeadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The head's tensors by name, if the adapter saved one.
    public static func headTensors(_ adapter: LoRAAdapter) -> (weight: FloatTensor, bias: FloatTensor?)? {
        let names = adapter.savedTensors.keys.sorted()
        guard let w = names.first(where: { $0.hasSuffix("classifier.weight") || $0.hasSuffix("classifier.out_proj.weight") || $0 == "score.weight" })
        else { return nil }
        let b = String(w.dropLast("weight".count)) + "bias"
        return (adapter.savedTensors[w]!, adapter.savedTensors[b])
    }

    public init(model: EncoderTextModel) throws {
        guard let adapter = model.adapter, let head = Self.headTensors(adapter) else {
            throw HeadError(description: "the adapter has no classification head (modules_to_save 'classifier'); train it with dojo finetune or use zero-shot labels")
        }
        let hidden = model.encoder.dimension
        guard head.weight.shape.count == 2, head.weight.shape[1] == hidden else {
            throw HeadError(description: "the adapter's classifier.weight has shape \(head.weight.shape); expected [labels, \(hidden)]")
        }
        let n = head.weight.shape[0]
        var labels = adapter.labels
        if labels.isEmpty { labels = (0..<n).map { "LABEL_\($0)" } }
        guard labels.count == n else {
            throw HeadError(description: "the adapter names \(labels.count) labels (labels.json) but its head has \(n) outputs")
        }
        if let b = head.bias, b.count != n {
            throw HeadError(description: "the adapter's classifier.bias has \(b.count) values; expected \(n)")
        }
        self.labels = labels
        self.model = model
        self.hidden = hidden
        self.weight = Array(head.weight.buffer)
        self.bias = head.bias.map { Array($0.buffer) } ?? [Float](repeating: 0, count: n)
    }

    public func classify(_ texts: [String]) -> [Classification] {
        model.pooled(texts).map { e in
            var logits = bias
            for k in 0..<labels.count {
                var s: Float = 0
                let row = k * hidden
                for j in 0..<hidden { s += weight[row + j] * e.vector[j] }
                logits[k] += s
            }
            return Classification(probabilities: VectorMath.softmax(logits), cut: e.cut, truncated: e.truncated, tokens: e.tokens)
        }
    }
}
