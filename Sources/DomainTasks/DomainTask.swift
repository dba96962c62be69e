import Foundation
import Kernels
import Models

/// What a task produced for one document: one JSON line.
public struct TaskRecord: Sendable, Equatable {
    public var json: String
    public var isError: Bool
    /// Model tokens the document cost (0 for tasks without a model).
    public var tokens: Int

    public init(json: String, isError: Bool = false, tokens: Int = 0) {
        self.json = json
        self.isError = isError
        self.tokens = tokens
    }

    /// `{"id": …, "error": …}` for a document the task could not process.
    public static func error(_ id: DocumentID, _ message: String) -> TaskRecord {
        TaskRecord(json: "{\"id\":\(id.json),\"error\":\(JSONText.quote(message))}", isError: true)
    }
}

/// A job's work on documents: one record per document, in order. A document that fails gets an
/// error record and the others go on; only a bug may stop the batch.
public protocol DomainTask: AnyObject {
    func run(_ documents: [Document]) -> [TaskRecord]
}

extension DomainTask {
    /// One record per parsed line, in input order: the task's record for a document, the
    /// parse error's record for a line that was not one. Used by `dojo run` and by workers alike.
    public func records(for entries: [Result<Document, DocumentError>]) -> [TaskRecord] {
        var results = run(entries.compactMap { try? $0.get() }).makeIterator()
        return entries.map { entry in
            switch entry {
            case .success: return results.next()!
            case .failure(let e): return TaskRecord(json: e.record, isError: true)
            }
        }
    }
}

/// Where tasks get models; the worker's cache and `dojo run` provide it.
public protocol ModelProvider: AnyObject {
    var pool: ThreadPool { get }
    /// An encoder by name (minilm) or directory, in the precision a job asked for.
    func encoder(_ name: String, precision: MatmulPrecision) throws -> SentenceEncoder
    func adapter(_ path: String, for encoder: SentenceEncoder) throws -> LoRAAdapter
    /// A GGUF decoder by name (smollm2) or path.
    func decoder(_ name: String) throws -> LlamaModel
}

/// Loads each model and adapter once and keeps it (for one-process runs).
public final class CachingModelProvider: ModelProvider {
    public let pool: ThreadPool
    private var encoders: [String: SentenceEncoder] = [:]
    private var adapters: [String: LoRAAdapter] = [:]
    private var decoders: [String: LlamaModel] = [:]
    private let lock = NSLock()

    public init(pool: ThreadPool) { self.pool = pool }

    public func encoder(_ name: String, precision: MatmulPrecision) throws -> SentenceEncoder {
        lock.lock(); defer { lock.unlock() }
        let url = try ModelRegistry.resolve(name)
        let key = url.path + "|" + precision.rawValue
        if let e = encoders[key] { return e }
        let e = try SentenceEncoder(directory: url, precision: precision)
        encoders[key] = e
        return e
    }

    public func adapter(_ path: String, for encoder: SentenceEncoder) throws -> LoRAAdapter {
        lock.lock(); defer { lock.unlock() }
        let key = encoder.directory.path + "|" + path
        if let a = adapters[key] { return a }
        let a = try encoder.loadAdapter(URL(fileURLWithPath: path))
        adapters[key] = a
        return a
    }

    public func decoder(_ name: String) throws -> LlamaModel {
        lock.lock(); defer { lock.unlock() }
        let url = try ModelRegistry.resolve(name)
        if let d = decoders[url.path] { return d }
        let d = try LlamaModel(path: url.path)
        decoders[url.path] = d
        return d
    }
}

/// The tasks a job spec may name, their validation, and their construction.
public enum TaskCatalog {
    /// Tasks for users; `test-crash` exists only when `DOJO_TEST_TASKS=1`.
    public static var names: [String] {
        var n = ["embed", "classify", "generate", "contract-review", "clinical-notes", "noop"]
        if ProcessInfo.processInfo.environment["DOJO_TEST_TASKS"] == "1" { n.append("test-crash") }
        return n
    }

    /// Checks a spec before anything is queued: the task exists, the model resolves, the adapter loads and fits.
    public static func validate(_ spec: JobSpec, source: String) throws {
        guard names.contains(spec.task) else {
            throw SpecError(source, "unknown task '\(spec.task)'; known tasks: \(names.joined(separator: ", "))")
        }
        if spec.task == "embed" {
            guard let model = spec.model else { throw SpecError(source, "task 'embed' needs a 'model' (e.g. minilm)") }
            _ = try spec.precision(source: source)
            let encoder: SentenceEncoder
            do { encoder = try SentenceEncoder(directory: try ModelRegistry.resolve(model)) } catch {
                throw SpecError(source, "model: \(error)")
            }
            if let adapter = spec.adapter {
                do { _ = try encoder.loadAdapter(URL(fileURLWithPath: adapter)) } catch {
                    throw SpecError(source, "adapter: \(error)")
                }
            }
            let batch = spec.int("batch", default: 32)
            guard batch >= 1 && batch <= 4096 else { throw SpecError(source, "params.batch must be in 1...4096, not \(batch)") }
        }
        if spec.task == "generate" { try GenerateTask.validate(spec, source: source) }
        if ["classify", "contract-review", "clinical-notes"].contains(spec.task) {
            try validateModelTask(spec, source: source)
        }
    }

    /// Domain tasks: their own parameters, then the model and adapter (an adapter with a head must know the labels asked for).
    static func validateModelTask(_ spec: JobSpec, source: String) throws {
        switch spec.task {
        case "classify": try ClassifyTask.validate(spec, source: source)
        case "contract-review": try ContractReviewTask.validate(spec, source: source)
        default: try ClinicalNotesTask.validate(spec, source: source)
        }
        guard let model = spec.model else { throw SpecError(source, "task '\(spec.task)' needs a 'model' (e.g. minilm)") }
        _ = try spec.precision(source: source)
        let encoder: SentenceEncoder
        do { encoder = try SentenceEncoder(directory: try ModelRegistry.resolve(model)) } catch {
            throw SpecError(source, "model: \(error)")
        }
        for (key, path) in spec.adapterPaths {
            let adapter: LoRAAdapter
            do { adapter = try encoder.loadAdapter(URL(fileURLWithPath: path)) } catch {
                throw SpecError(source, "\(key): \(error)")
            }
            let prefix = key == "adapter" ? spec.primaryLabelPrefix : String(key.dropLast("adapter".count))
            try ClassifierFactory.checkAdapter(adapter, labels: try LabelSpec.parse(spec.params[prefix + "labels"], source: source), source: source)
        }
    }

    /// Builds the task a spec names.
    public static func make(_ spec: JobSpec, models: ModelProvider) throws -> DomainTask {
        switch spec.task {
        case "embed":
            guard let model = spec.model else { throw SpecError("job spec", "task 'embed' needs a 'model'") }
            let encoder = try models.encoder(model, precision: try spec.precision(source: "job spec"))
            let adapter = try spec.adapter.map { try models.adapter($0, for: encoder) }
            return EmbedTask(encoder: encoder, adapter: adapter, pool: models.pool, batch: spec.int("batch", default: 32))
        case "classify":
            return try ClassifyTask.make(spec, models: models)
        case "generate":
            return try GenerateTask.make(spec, models: models)
        case "contract-review":
            return try ContractReviewTask.make(spec, models: models)
        case "clinical-notes":
            return try ClinicalNotesTask.make(spec, models: models)
        case "noop":
            return NoopTask()
        case "test-crash" where names.contains("test-crash"):
            return CrashTestTask(marker: spec.string("marker") ?? "CRASH", delayMs: spec.int("delay_ms", default: 0))
        default:
            throw SpecError("job spec", "unknown task '\(spec.task)'; known tasks: \(names.joined(separator: ", "))")
        }
    }
}

/// `{"id": …}` per document: measures the pipeline without a model.
public final class NoopTask: DomainTask {
    public init() {}
    public func run(_ documents: [Document]) -> [TaskRecord] {
        documents.map { TaskRecord(json: "{\"id\":\($0.id.json)}") }
    }
}

/// Test-only: kills the process on a document containing `marker` (poison-document isolation), and
/// can take `delayMs` per document so tests can kill processes in mid-shard.
public final class CrashTestTask: DomainTask {
    let marker: String
    let delayMs: Int
    public init(marker: String, delayMs: Int = 0) { self.marker = marker; self.delayMs = delayMs }
    public func run(_ documents: [Document]) -> [TaskRecord] {
        for d in documents where d.text.contains(marker) { abort() }
        if delayMs > 0 { usleep(useconds_t(delayMs * documents.count * 1000)) }
        return documents.map { TaskRecord(json: "{\"id\":\($0.id.json),\"chars\":\($0.text.count)}") }
    }
}
