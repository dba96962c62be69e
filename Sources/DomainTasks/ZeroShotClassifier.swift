import Foundation

/// A label and the prompts whose embeddings make its prototype.
public struct LabelPrompt: Sendable, Equatable {
    public var label: String
    /// One or more texts; their embeddings are averaged into the label's prototype.
    public var prompts: [String]

    public init(label: String, prompts: [String]) {
        self.label = label
        self.prompts = prompts
    }
}

/// Zero-shot classification by cosine similarity to label prototypes.
///
/// Each label's prototype is the mean of its prompts' unit embeddings, re-normalised. With `center`,
/// the mean of all prototypes is subtracted from each prototype and from each text before the
/// cosine (the labels share a domain direction that says nothing about which label fits).
/// Scores are `softmax(cosine / temperature)`.
public final class ZeroShotClassifier: TextClassifier {
    public let labels: [String]
    public let temperature: Float
    public let center: Bool
    let embedder: TextEmbedder
    let prototypes: [[Float]]  // [labels][dimension], unit length
    let mean: [Float]          // [dimension]; zeros without centering

    public init(embedder: TextEmbedder, labels: [LabelPrompt], temperature: Float = 0.05, center: Bool = true) {
        self.embedder = embedder
        self.labels = labels.map(\.label)
        self.temperature = temperature
        self.center = center
        let flat = labels.flatMap(\.prompts)
        let vectors = embedder.embed(flat).map(\.vector)
        var protos: [[Float]] = []
        var k = 0
        for label in labels {
            var p = [Float](repeating: 0, count: vectors.first?.count ?? 0)
            for _ in label.prompts {
                for j in p.indices { p[j] += vectors[k][j] }
                k += 1
            }
            VectorMath.normalize(&p)
            protos.append(p)
        }
        var m = [Float](repeating: 0, count: protos.first?.count ?? 0)
        if center && protos.count > 1 {
            for p in protos { for j in m.indices { m[j] += p[j] / Float(protos.count) } }
            for i in protos.indices {
                for j in m.indices { protos[i][j] -= m[j] }
                VectorMath.normalize(&protos[i])
            }
        }
        self.prototypes = protos
        self.mean = m
    }

    public func classify(_ texts: [String]) -> [Classification] {
        embedder.embed(texts).map { e in
            var v = e.vector
            if center { for j in 0..<min(v.count, mean.count) { v[j] -= mean[j] } }
            VectorMath.normalize(&v)
            let sims = prototypes.map { VectorMath.dot($0, v) }
            return Classification(probabilities: VectorMath.softmax(sims, temperature: temperature),
                                  similarities: sims, cut: e.cut, truncated: e.truncated, tokens: e.tokens)
        }
    }
}
