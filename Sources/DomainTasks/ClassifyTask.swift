import Foundation

/// `classify`: one label per document from a label set (zero-shot prototypes or an adapter's head).
///
/// Params: `labels` (required without an adapter head), `prompts`, `temperature`, `center`, `top_k`
/// (default 3), `field` (the input field to classify, default `text`), `batch`.
/// Output: `{"id", "label", "score", "top": [{"label", "score"}], "similarity"?, "cut"?, "truncated"?}` —
/// `score` is the softmax probability; `similarity` the cosine to the label's prototype (zero-shot only);
/// `cut` says the text was longer than the model's context and was read as overlapping windows.
public final class ClassifyTask: DomainTask {
    public static let defaults = ClassifierFactory.Defaults(labels: [])
    let classifier: TextClassifier
    let topK: Int
    let field: String

    public init(classifier: TextClassifier, topK: Int = 3, field: String = "text") {
        self.classifier = classifier
        self.topK = max(1, topK)
        self.field = field
    }

    public static func validate(_ spec: JobSpec, source: String) throws {
        if spec.adapter == nil && spec.params["labels"] == nil {
            throw SpecError(source, "task 'classify' needs params.labels (\"NAME: DESCRIPTION\" list) or an adapter with a classification head")
        }
        if spec.params["labels"] != nil { try ClassifierFactory.validateParams(spec, defaults: defaults, source: source) }
        let k = spec.int("top_k", default: 3)
        guard k >= 1 && k <= 1000 else { throw SpecError(source, "params.top_k must be in 1...1000, not \(k)") }
    }

    public static func make(_ spec: JobSpec, models: ModelProvider) throws -> ClassifyTask {
        let classifier = try ClassifierFactory.make(spec, adapterPath: spec.adapter, models: models, defaults: defaults)
        return ClassifyTask(classifier: classifier, topK: spec.int("top_k", default: 3), field: spec.string("field") ?? "text")
    }

    public func run(_ documents: [Document]) -> [TaskRecord] {
        var texts: [String] = [], positions: [Int] = []
        var records = [TaskRecord?](repeating: nil, count: documents.count)
        for (i, d) in documents.enumerated() {
            let text = field == "text" ? d.text : (d.fields[field] as? String)
            guard let text else { records[i] = .error(d.id, "document has no string field '\(field)' to classify"); continue }
            guard text.contains(where: { !$0.isWhitespace }) else { records[i] = .error(d.id, "document is empty; nothing to classify"); continue }
            texts.append(text); positions.append(i)
        }
        let results = texts.isEmpty ? [] : classifier.classify(texts)
        for (k, c) in results.enumerated() {
            records[positions[k]] = TaskRecord(json: Self.json(id: documents[positions[k]].id, c, labels: classifier.labels, topK: topK),
                                               tokens: c.tokens)
        }
        return records.map { $0! }
    }

    static func json(id: DocumentID, _ c: Classification, labels: [String], topK: Int) -> String {
        let b = c.best
        var s = "{\"id\":\(id.json),\"label\":\(JSONText.quote(labels[b])),\"score\":\(Score.format(c.probabilities[b]))"
        s += ",\"top\":[" + c.top(topK).map { "{\"label\":\(JSONText.quote(labels[$0])),\"score\":\(Score.format(c.probabilities[$0]))}" }.joined(separator: ",") + "]"
        if !c.similarities.isEmpty { s += ",\"similarity\":\(Score.format(c.similarities[b]))" }
        if c.cut { s += ",\"cut\":true" }
        if c.truncated { s += ",\"truncated\":true" }
        return s + "}"
    }
}

/// Scores in records: four decimals are plenty and keep records small.
enum Score {
    static func format(_ x: Float) -> String {
        guard x.isFinite else { return "null" }
        return String(format: "%.4f", Double(x))
    }
}
