import ArgumentParser
import DomainTasks
import Foundation
import Kernels

struct EvalCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Measure the classifier a job spec configures on labelled JSONL ({\"id\", \"text\", \"label\", \"labels\"?}).")

    @Option(help: "Job spec (classify, contract-review or clinical-notes; its classifier is evaluated).") var spec: String
    @Option(help: "Labelled JSONL.") var input: String
    @Option(help: "Classification adapter (overrides the spec's).") var adapter: String?
    @Flag(help: "Print one JSON object (accuracy, macro_f1, per_label, confusion).") var json = false
    @Option(help: "Write an HTML report with a confusion heat map.") var html: String?
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Field that groups units (a contract, a note) for --part.") var group: String?
    @Option(help: "all, tune (groups whose hash is 0 mod 3) or test (the other two thirds).") var part: Part = .all
    @Option(help: "Which classifier of a clinical-notes spec: specialty or section.") var classifier: String = "specialty"

    enum Part: String, ExpressibleByArgument { case all, tune, test }

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        var job = try JobSpec.load(URL(fileURLWithPath: spec))
        if let adapter { job.adapter = adapter }
        try TaskCatalog.validate(job, source: spec)
        let models = CachingModelProvider(pool: ThreadPool(threads: threads ?? ThreadPool.defaultThreadCount))
        let model: TextClassifier
        switch job.task {
        case "classify":
            model = try ClassifierFactory.make(job, adapterPath: job.adapter, models: models, defaults: ClassifyTask.defaults, source: spec)
        case "contract-review":
            model = try ClassifierFactory.make(job, adapterPath: job.adapter, models: models, defaults: ContractReviewTask.defaults, source: spec)
        case "clinical-notes" where classifier == "section":
            model = try ClassifierFactory.make(job, prefix: "section_", adapterPath: job.string("section_adapter") ?? adapter,
                                               models: models, defaults: ClinicalNotesTask.sectionDefaults, source: spec)
        case "clinical-notes":
            model = try ClassifierFactory.make(job, prefix: "specialty_", adapterPath: job.string("specialty_adapter") ?? job.adapter,
                                               models: models, defaults: ClinicalNotesTask.specialtyDefaults, source: spec)
        default:
            throw CLIError("\(spec): task '\(job.task)' has no classifier to evaluate; use classify, contract-review or clinical-notes")
        }

        // Labelled units.
        var texts: [String] = [], golds: [(label: String, labels: [String])] = []
        let reader = try LineReader(handle: openInput(input))
        while let line = reader.next() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let o = try? JSONSerialization.jsonObject(with: line) as? [String: Any],
                  let text = o["text"] as? String, let label = o["label"] as? String else {
                throw CLIError("\(input): line \(reader.lineNumber) is not {\"text\": …, \"label\": …}")
            }
            if part != .all {
                let key = (group.flatMap { o[$0].map { "\($0)" } }) ?? "\(o["id"] ?? reader.lineNumber)"
                let tune = fnv1a(key) % 3 == 0
                if (part == .tune) != tune { continue }
            }
            texts.append(text)
            golds.append((label, (o["labels"] as? [String]) ?? [label]))
        }
        guard !texts.isEmpty else { throw CLIError("\(input): no labelled units (after --part \(part.rawValue))") }
        let known = Set(model.labels)
        let unknown = Set(golds.map(\.label)).subtracting(known)
        if !unknown.isEmpty {
            FileHandle.standardError.write("warning: \(unknown.count) gold labels are not among the classifier's labels and count as errors: \(unknown.sorted().prefix(10).joined(separator: ", "))\n".data(using: .utf8)!)
        }

        let started = Date()
        var pairs: [(gold: String, predicted: String)] = []
        var cut = 0
        let chunk = 256
        var start = 0
        while start < texts.count {
            let end = min(start + chunk, texts.count)
            for (k, c) in model.classify(Array(texts[start..<end])).enumerated() {
                let predicted = model.labels[c.best]
                let g = golds[start + k]
                pairs.append((Evaluation.gold(label: g.label, labels: g.labels, predicted: predicted), predicted))
                if c.cut { cut += 1 }
            }
            start = end
        }
        let seconds = Date().timeIntervalSince(started)
        let evaluation = Evaluation(known: model.labels, pairs: pairs)
        let title = "\(URL(fileURLWithPath: spec).lastPathComponent) on \(URL(fileURLWithPath: input).lastPathComponent)"
            + (part == .all ? "" : " (\(part.rawValue) part)") + (job.adapter.map { " with adapter \($0)" } ?? " (zero-shot)")
        if json {
            print(EvalReport.json(evaluation, extra: [("cut_units", String(cut)), ("seconds", String(format: "%.1f", seconds))]))
        } else {
            print(EvalReport.text(evaluation, title: title), terminator: "")
            print("\n\(cut) units longer than the model's context were read as overlapping windows; \(String(format: "%.1f", seconds)) s")
        }
        if let html {
            do { try EvalReport.html(evaluation, title: title).write(toFile: html, atomically: true, encoding: .utf8) } catch {
                throw CLIError("\(html): cannot write the HTML report (\(error))")
            }
        }
    }
}

/// FNV-1a over UTF-8: a stable split of groups across runs and machines.
func fnv1a(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf29ce484222325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
    return h
}
