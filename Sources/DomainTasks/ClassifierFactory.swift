import Foundation
import Models

/// Builds the classifier a job spec configures: an adapter's trained head when the spec names an
/// adapter that has one, otherwise zero-shot label prototypes.
///
/// Parameters (with `prefix`, e.g. `section_`, when a task has several classifiers):
/// `labels` (list of "NAME: DESCRIPTION" or {name, description, prompts}), `prompts` (templates with
/// `{label}`, `{description}` and `{example}`, averaged per label), `temperature` (softmax temperature over
/// cosines), `center` (subtract the mean prototype), `batch`, `overlap` and `max_windows` (long texts).
public enum ClassifierFactory {
    public struct Defaults {
        public var labels: [LabelSpec]
        public var templates: [String]
        public var temperature: Double
        public var center: Bool
        public init(labels: [LabelSpec], templates: [String] = ["{label}: {description}"], temperature: Double = 0.05, center: Bool = true) {
            self.labels = labels; self.templates = templates; self.temperature = temperature; self.center = center
        }
    }

    /// The labels the spec asks for (or the defaults).
    public static func labels(_ spec: JobSpec, prefix: String = "", defaults: Defaults, source: String) throws -> [LabelSpec] {
        try LabelSpec.parse(spec.params[prefix + "labels"], source: source) ?? defaults.labels
    }

    /// Checks parameters without loading a model.
    public static func validateParams(_ spec: JobSpec, prefix: String = "", defaults: Defaults, source: String) throws {
        let labels = try labels(spec, prefix: prefix, defaults: defaults, source: source)
        guard !labels.isEmpty else { throw SpecError(source, "params.\(prefix)labels: a classifier needs at least one label") }
        let t = spec.double(prefix + "temperature", default: defaults.temperature)
        guard t > 0 && t <= 100 else { throw SpecError(source, "params.\(prefix)temperature must be in (0, 100], not \(t)") }
        let batch = spec.int("batch", default: 32)
        guard batch >= 1 && batch <= 4096 else { throw SpecError(source, "params.batch must be in 1...4096, not \(batch)") }
        let windows = spec.int("max_windows", default: 64)
        guard windows >= 1 && windows <= 100_000 else { throw SpecError(source, "params.max_windows must be in 1...100000, not \(windows)") }
        if let templates = spec.strings(prefix + "prompts") {
            guard !templates.isEmpty, templates.allSatisfy({ $0.contains("{label}") || $0.contains("{label_lower}") || $0.contains("{description}") || $0.contains("{example}") }) else {
                throw SpecError(source, "params.\(prefix)prompts: each template needs {label} or {description}")
            }
        }
    }

    /// Checks that the adapter can serve these labels: with a head, every requested label must be one of its labels.
    public static func checkAdapter(_ adapter: LoRAAdapter, labels requested: [LabelSpec]?, source: String) throws {
        guard HeadClassifier.headTensors(adapter) != nil else { return }  // no head: the adapter only adapts the embeddings
        guard let requested else { return }
        let known = Set(adapter.labels)
        let missing = requested.map(\.name).filter { !known.contains($0) }
        if !missing.isEmpty {
            throw SpecError(source, "labels not in the adapter: \(missing.joined(separator: ", ")); the adapter's head knows "
                + "\(adapter.labels.joined(separator: ", ")) — drop params.labels to use the adapter's labels, or drop the adapter for zero-shot")
        }
    }

    /// The classifier: adapter head, or zero-shot prototypes embedded (with the adapter, if any) now.
    public static func make(_ spec: JobSpec, prefix: String = "", adapterPath: String?, models: ModelProvider,
                            defaults: Defaults, source: String = "job spec") throws -> TextClassifier {
        guard let modelName = spec.model else { throw SpecError(source, "task '\(spec.task)' needs a 'model' (e.g. minilm)") }
        let encoder = try models.encoder(modelName, precision: try spec.precision(source: source))
        let adapter = try adapterPath.map { try models.adapter($0, for: encoder) }
        let model = EncoderTextModel(encoder: encoder, adapter: adapter, pool: models.pool,
                                     batch: spec.int("batch", default: 32), overlap: spec.int("overlap", default: 32),
                                     maxWindows: spec.int("max_windows", default: 64))
        let requested = try LabelSpec.parse(spec.params[prefix + "labels"], source: source)
        if let adapter, HeadClassifier.headTensors(adapter) != nil {
            try checkAdapter(adapter, labels: requested, source: source)
            return try HeadClassifier(model: model)
        }
        return zeroShot(spec, prefix: prefix, embedder: model, labels: requested ?? defaults.labels, defaults: defaults)
    }

    /// Zero-shot prototypes from the spec's templates and temperature.
    public static func zeroShot(_ spec: JobSpec, prefix: String = "", embedder: TextEmbedder, labels: [LabelSpec], defaults: Defaults) -> ZeroShotClassifier {
        let templates = spec.strings(prefix + "prompts") ?? defaults.templates
        return ZeroShotClassifier(embedder: embedder,
                                  labels: labels.map { LabelPrompt(label: $0.name, prompts: $0.prompts(templates: templates)) },
                                  temperature: Float(spec.double(prefix + "temperature", default: defaults.temperature)),
                                  center: spec.bool(prefix + "center", default: defaults.center))
    }
}
