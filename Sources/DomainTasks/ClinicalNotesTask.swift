import Foundation
import Models

/// `clinical-notes`: sections with normalised types, specialty, and medications, allergies, vital
/// signs and problems with offsets, per note. Nothing of a note's text is logged.
///
/// Params: `specialty_labels` (default MTSamples' specialties), `specialty_prompts`,
/// `specialty_temperature`, `specialty` (false to skip), `section_labels` (default MTS-Dialog's 20
/// types), `section_prompts`, `section_temperature`, `classify_sections` (type sections whose heading
/// is unknown or missing with the section classifier; default true), `section_adapter` and
/// `specialty_adapter` (classification adapters; the spec's `adapter` is the specialty one), `top_k`, `batch`;
/// `summary: true` adds a summary by a GGUF decoder: `summary_model` (default smollm2), `summary_prompt`
/// (`{text}` is the note), `summary_system`, and the `generate` task's settings prefixed `summary_`
/// (`summary_max_tokens` defaults to 96).
///
/// Output: `{"id", "specialty": {"label", "score", "top"}, "sections": [{"start", "end", "heading"?,
/// "type", "source": "heading"|"model", "score"?}], "medications": [{"name", "dose"?, "route"?,
/// "frequency"? (each {"text","start","end"}), "start", "end"}], "allergies": [{"substance", "none"?,
/// "start", "end"}], "vitals": [{"type", "value", "unit"?, "start", "end"}], "problems": [{"text",
/// "start", "end"}], "summary"?: {"text", "finish", "truncated"?} or "summary_error"?, "cut"?, "warning"?}`.
/// Offsets are Unicode scalar offsets into the note.
public final class ClinicalNotesTask: DomainTask {
    public static var specialtyDefaults: ClassifierFactory.Defaults {
        ClassifierFactory.Defaults(labels: BuiltinLabels.mtsamplesSpecialties.map { LabelSpec(name: $0) },
                                   templates: ZeroShotDefaults.specialtyTemplates, temperature: ZeroShotDefaults.specialtyTemperature, center: false)
    }
    public static var sectionDefaults: ClassifierFactory.Defaults {
        ClassifierFactory.Defaults(labels: BuiltinLabels.mtsSectionTypes.map {
                                       LabelSpec(name: $0.code, description: $0.name, example: BuiltinLabels.mtsSectionExamples[$0.code] ?? "")
                                   },
                                   templates: ZeroShotDefaults.sectionTemplates, temperature: ZeroShotDefaults.sectionTemperature, center: false)
    }

    let specialty: TextClassifier?
    let sectionClassifier: TextClassifier?
    let segmenter = NoteSectionSegmenter()
    let topK: Int
    let summarizer: (generator: TextGenerator, prompt: PromptTemplate)?

    /// The summary prompt unless the spec gives one: short, factual, no invention.
    public static let defaultSummaryPrompt = "Summarise this clinical note in two or three sentences: the patient's problem, "
        + "key findings and the plan. Use only facts stated in the note.\n\n{text}"

    public init(specialty: TextClassifier?, sectionClassifier: TextClassifier?, topK: Int = 3,
                summarizer: (generator: TextGenerator, prompt: PromptTemplate)? = nil) {
        self.specialty = specialty
        self.sectionClassifier = sectionClassifier
        self.topK = max(topK, 1)
        self.summarizer = summarizer
    }

    /// The summary prompt of a spec (chat formatting when the decoder has a template).
    static func summaryPrompt(_ spec: JobSpec, source: String, hasChatTemplate: Bool) throws -> PromptTemplate {
        let template = spec.string("summary_prompt") ?? defaultSummaryPrompt
        guard template.contains("{text}") else {
            throw SpecError(source, "params.summary_prompt must contain {text} (where the note goes)")
        }
        return PromptTemplate(template: template, system: spec.string("summary_system"),
                              chat: spec.bool("summary_chat", default: hasChatTemplate) && hasChatTemplate)
    }

    public static func validate(_ spec: JobSpec, source: String) throws {
        try ClassifierFactory.validateParams(spec, prefix: "specialty_", defaults: specialtyDefaults, source: source)
        try ClassifierFactory.validateParams(spec, prefix: "section_", defaults: sectionDefaults, source: source)
        let k = spec.int("top_k", default: 3)
        guard k >= 1 && k <= 1000 else { throw SpecError(source, "params.top_k must be in 1...1000, not \(k)") }
        if spec.bool("summary", default: false) {
            let name = spec.string("summary_model") ?? "smollm2"
            let model: LlamaModel
            do { model = try LlamaModel(path: ModelRegistry.resolve(name).path) } catch {
                throw SpecError(source, "summary_model: \(error)")
            }
            _ = try GenerateTask.settings(spec, prefix: "summary_", source: source, defaultMaxTokens: 96)
            _ = try summaryPrompt(spec, source: source, hasChatTemplate: DecoderTextGenerator.hasChatTemplate(model))
        }
    }

    public static func make(_ spec: JobSpec, models: ModelProvider) throws -> ClinicalNotesTask {
        let specialty = spec.bool("specialty", default: true)
            ? try ClassifierFactory.make(spec, prefix: "specialty_", adapterPath: spec.string("specialty_adapter") ?? spec.adapter,
                                         models: models, defaults: specialtyDefaults)
            : nil
        let sections = spec.bool("classify_sections", default: true)
            ? try ClassifierFactory.make(spec, prefix: "section_", adapterPath: spec.string("section_adapter"), models: models, defaults: sectionDefaults)
            : nil
        var summarizer: (TextGenerator, PromptTemplate)?
        if spec.bool("summary", default: false) {
            let model = try models.decoder(spec.string("summary_model") ?? "smollm2")
            let settings = try GenerateTask.settings(spec, prefix: "summary_", source: "job spec", defaultMaxTokens: 96)
            summarizer = (DecoderTextGenerator(model: model, adapter: nil, pool: models.pool, settings: settings),
                          try summaryPrompt(spec, source: "job spec", hasChatTemplate: DecoderTextGenerator.hasChatTemplate(model)))
        }
        return ClinicalNotesTask(specialty: specialty, sectionClassifier: sections, topK: spec.int("top_k", default: 3),
                                 summarizer: summarizer)
    }

    public func run(_ documents: [Document]) -> [TaskRecord] {
        // Summaries first, all of the batch's notes decoded together; a note that is not text gets none.
        var summaries: [Int: Result<Completion, TaskFailure>] = [:]
        if let (generator, prompt) = summarizer {
            let usable = documents.indices.filter { DocumentChecks.problem(Array(documents[$0].text.unicodeScalars)) == nil }
            for (i, outcome) in zip(usable, generator.complete(usable.map { documents[$0] }, prompt: prompt)) {
                summaries[i] = outcome
            }
        }
        return documents.indices.map { process(documents[$0], summary: summaries[$0]) }
    }

    func process(_ document: Document, summary: Result<Completion, TaskFailure>? = nil) -> TaskRecord {
        let note = ScalarTextRef(document.text)
        let s = note.scalars
        if let problem = DocumentChecks.problem(s) { return .error(document.id, problem) }
        var sections = segmenter.segment(s)
        var tokens = 0

        // Sections without a known heading: ask the section classifier.
        var modelTyped: [Int: Float] = [:]
        if let sectionClassifier {
            let open = sections.indices.filter { sections[$0].type == nil && !sections[$0].body.isEmpty }
            let results = open.isEmpty ? [] : sectionClassifier.classify(open.map { TextScan.string(s, sections[$0].range) })
            for (k, c) in zip(open, results) {
                sections[k].type = sectionClassifier.labels[c.best]
                modelTyped[k] = c.probabilities[c.best]
                tokens += c.tokens
            }
        }

        var json = "{\"id\":\(document.id.json)"
        var cut = false
        if let specialty, let c = specialty.classify([document.text]).first {
            tokens += c.tokens
            cut = c.cut
            let b = c.best
            json += ",\"specialty\":{\"label\":\(JSONText.quote(specialty.labels[b])),\"score\":\(Score.format(c.probabilities[b]))"
            json += ",\"top\":[" + c.top(topK).map { "{\"label\":\(JSONText.quote(specialty.labels[$0])),\"score\":\(Score.format(c.probabilities[$0]))}" }.joined(separator: ",") + "]}"
            if c.truncated { json += ",\"truncated\":true" }
        }
        json += ",\"sections\":[" + sections.enumerated().map { k, sec in
            var o = "{\"start\":\(sec.range.lowerBound),\"end\":\(sec.range.upperBound)"
            if let h = sec.heading { o += ",\"heading\":\(JSONText.quote(TextScan.string(s, h)))" }
            o += ",\"type\":" + (sec.type.map(JSONText.quote) ?? "null")
            if let p = modelTyped[k] { o += ",\"source\":\"model\",\"score\":\(Score.format(p))" } else if sec.type != nil { o += ",\"source\":\"heading\"" }
            return o + "}"
        }.joined(separator: ",") + "]"
        json += ",\"medications\":[" + ClinicalExtraction.medications(note, sections: sections).map(\.json).joined(separator: ",") + "]"
        json += ",\"allergies\":[" + ClinicalExtraction.allergies(note, sections: sections).map(\.json).joined(separator: ",") + "]"
        json += ",\"vitals\":[" + ClinicalExtraction.vitals(note).map(\.json).joined(separator: ",") + "]"
        json += ",\"problems\":[" + ClinicalExtraction.problems(note, sections: sections).map(\.json).joined(separator: ",") + "]"
        switch summary {
        case .success(let c)?:
            json += ",\"summary\":{\"text\":\(JSONText.quote(c.text.trimmingCharacters(in: .whitespacesAndNewlines))),\"finish\":\"\(c.finish)\""
            json += (c.truncated ? ",\"truncated\":true" : "") + "}"
            tokens += c.promptTokens + c.generatedTokens
        case .failure(let f)?:
            json += ",\"summary_error\":\(JSONText.quote(f.description))"
        case nil:
            break
        }
        if cut { json += ",\"cut\":true" }
        if let w = DocumentChecks.languageWarning(document.text) { json += ",\"warning\":\(JSONText.quote(w))" }
        return TaskRecord(json: json + "}", tokens: tokens)
    }
}
