import Foundation

/// `contract-review`: clauses with their CUAD types, key answers and risk flags, per contract.
///
/// Params: `labels` (clause types; default CUAD's 37 as "LABEL: DESCRIPTION"), `prompts`, `temperature`,
/// `center` (zero-shot, see `ClassifierFactory`), `max_chars` (longest clause before the sentence
/// fallback, default 1000), `present_score` (a type is `present` when a clause of that type scores at
/// least this, default 0.5), `flags` (which risk flags, default all), `party` (the reviewing party, for
/// termination for convenience), `batch`.
///
/// Output: `{"id", "clauses": [{"start", "end", "type", "score", "cut"?}], "present": [types],
/// "answers": {key: {"value", "start", "end", "clause"}, "parties": [...]}, "flags": [{"type", "clause", "reason"}]}`.
/// Offsets are Unicode scalar offsets into the document's text, half-open. `cut` marks a clause
/// longer than the model's context, read as overlapping windows whose embeddings were averaged.
public final class ContractReviewTask: DomainTask {
    public static var defaults: ClassifierFactory.Defaults {
        ClassifierFactory.Defaults(
            labels: BuiltinLabels.cuadClauseTypes.map {
                LabelSpec(name: $0.label, description: $0.description, example: BuiltinLabels.cuadClauseExamples[$0.label] ?? "")
            },
            templates: ZeroShotDefaults.cuadTemplates, temperature: ZeroShotDefaults.cuadTemperature, center: false)
    }

    let classifier: TextClassifier
    let segmenter: ClauseSegmenter
    let flags: RiskFlags
    let presentScore: Float

    public init(classifier: TextClassifier, segmenter: ClauseSegmenter = ClauseSegmenter(), flags: RiskFlags = RiskFlags(), presentScore: Float = 0.5) {
        self.classifier = classifier
        self.segmenter = segmenter
        self.flags = flags
        self.presentScore = presentScore
    }

    public static func validate(_ spec: JobSpec, source: String) throws {
        try ClassifierFactory.validateParams(spec, defaults: defaults, source: source)
        let maxChars = spec.int("max_chars", default: 1000)
        guard maxChars >= 40 && maxChars <= 100_000 else { throw SpecError(source, "params.max_chars must be in 40...100000, not \(maxChars)") }
        if let f = spec.strings("flags") { try RiskFlags.validate(f, source: source) }
        let p = spec.double("present_score", default: 0.5)
        guard p >= 0 && p <= 1 else { throw SpecError(source, "params.present_score must be in 0...1, not \(p)") }
    }

    public static func make(_ spec: JobSpec, models: ModelProvider) throws -> ContractReviewTask {
        let classifier = try ClassifierFactory.make(spec, adapterPath: spec.adapter, models: models, defaults: defaults)
        return ContractReviewTask(classifier: classifier, segmenter: ClauseSegmenter(maxChars: spec.int("max_chars", default: 1000)),
                                  flags: RiskFlags(enabled: spec.strings("flags") ?? RiskFlags.all, party: spec.string("party")),
                                  presentScore: Float(spec.double("present_score", default: 0.5)))
    }

    public func run(_ documents: [Document]) -> [TaskRecord] {
        documents.map(review)
    }

    func review(_ document: Document) -> TaskRecord {
        let s = Array(document.text.unicodeScalars)
        if let problem = DocumentChecks.problem(s) { return .error(document.id, problem) }
        let ranges = segmenter.segment(s)
        let results = classifier.classify(ranges.map { TextScan.string(s, $0) })
        let labels = classifier.labels
        var clauses: [TypedClause] = []
        var tokens = 0
        var json = "{\"id\":\(document.id.json),\"clauses\":["
        for (i, (r, c)) in zip(ranges, results).enumerated() {
            let b = c.best
            clauses.append(TypedClause(range: r, type: labels[b], score: c.probabilities[b]))
            tokens += c.tokens
            if i > 0 { json += "," }
            json += "{\"start\":\(r.lowerBound),\"end\":\(r.upperBound),\"type\":\(JSONText.quote(labels[b])),\"score\":\(Score.format(c.probabilities[b]))"
            if c.cut { json += ",\"cut\":true" }
            if c.truncated { json += ",\"truncated\":true" }
            json += "}"
        }
        var present: [String] = []
        for label in labels where clauses.contains(where: { $0.type == label && $0.score >= presentScore }) { present.append(label) }
        json += "],\"present\":[" + present.map(JSONText.quote).joined(separator: ",") + "]"
        json += ",\"answers\":" + ContractAnswers.json(ContractAnswers.find(s, clauses: clauses))
        json += ",\"flags\":[" + flags.flags(s, clauses: clauses).map(\.json).joined(separator: ",") + "]"
        if let w = DocumentChecks.languageWarning(document.text) { json += ",\"warning\":\(JSONText.quote(w))" }
        return TaskRecord(json: json + "}", tokens: tokens)
    }
}
