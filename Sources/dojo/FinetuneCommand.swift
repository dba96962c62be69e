import ArgumentParser
import Foundation
import Kernels
import Models

struct FinetuneCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Train a LoRA classification adapter (PEFT format) on an encoder from labelled JSONL.",
        discussion: """
            Each line of --train/--eval is a JSON object with "text" and the label field. Lines without a \
            label are skipped and counted; texts longer than --max-length tokens are truncated and counted. \
            The output directory holds adapter_config.json, adapter_model.safetensors (PEFT names, the head \
            as classifier.weight/bias in modules_to_save) and labels.json; it appears only when training ends.
            Per-epoch results are printed to stdout as JSON lines; progress goes to stderr.
            """)

    @Option(help: "Model name (minilm) or Hugging Face encoder directory.") var model = "minilm"
    @Option(help: "Training JSONL.") var train: String
    @Option(help: "Evaluation JSONL: accuracy and macro-F1 after each epoch, early stopping, best epoch kept (see --keep).") var eval: String?
    @Option(help: "Field holding the label.") var labelField = "label"
    @Option(help: "Field holding the text.") var textField = "text"
    @Option(help: "LoRA rank.") var rank = 8
    @Option(help: "LoRA alpha (scale = alpha / rank).") var alpha: Float = 16
    @Option(help: "Comma-separated target modules (query, key, value, attention.output.dense, intermediate.dense, output.dense, dense).")
    var targets = "query,value"
    @Option(help: "Dropout on the LoRA input.") var dropout: Float = 0.1
    @Option(help: "Dropout inside the frozen encoder (hidden and attention probabilities), as PyTorch's train mode: the model's config.json says 0.1 for BERT. Off by default: on held-out CUAD contracts it cost ~2 points.")
    var baseDropout: Float?
    @Option(help: "Epochs.") var epochs = 3
    @Option(help: "Peak learning rate (AdamW, 6% linear warm-up, then linear decay).") var lr: Float = 1e-3
    // Dojo's default recipe departs from PEFT's here: with one learning rate the freshly initialised head
    // learns far slower than the LoRA pairs (MTS-Dialog tuning split: 69.2% / 0.322 macro-F1 with 1×, 77.3% / 0.476 with 30×).
    @Option(help: "The classification head's learning rate as a multiple of --lr (PEFT's recipe: 1).") var headLr: Float = 30
    @Option(help: "Label smoothing: each training target is (1 − ε)·onehot + ε / labels.") var labelSmoothing: Float = 0
    @Option(help: "Decay of an exponential moving average of the parameters, evaluated and written instead of the last step's (0: off; 0.99 averages over ~100 steps).")
    var ema: Float = 0
    @Option(help: "Knowledge distillation: comma-separated classification adapter directories trained on the same labels; their mean probabilities for each training text enter its target with weight --distil.")
    var teacher: String?
    @Option(help: "With --teacher, the teacher's weight w in each training target, (1 − w)·onehot + w·teacher.") var distil: Float = 0.5
    @Option(name: .customLong("init"), help: "Continue this classification adapter (a dojo finetune output, or a PEFT SEQ_CLS LoRA adapter of this model) instead of starting afresh: its LoRA pairs and head are where training starts, and its rank, alpha, targets and labels replace --rank, --alpha and --targets; every training label must be one of its labels. For a second stage on the target corpus after a first on a broader one.")
    var initial: String?
    @Option(help: "AdamW weight decay (decoupled; not on the head bias).") var weightDecay: Float = 0.01
    @Option(help: "Fraction of steps spent warming up.") var warmup: Float = 0.06
    @Option(help: "Examples per step.") var batch = 32
    // 256, the window Dojo's classifiers read at inference (sentence-transformers' max_seq_length); PEFT's recipe: 128.
    @Option(help: "Tokens per text, [CLS] and [SEP] included; longer texts are truncated (PEFT's recipe: 128).") var maxLength = 256
    @Option(help: "Epochs without a better eval accuracy before stopping.") var patience = 2
    @Option(help: "Random seed (initialisation, shuffling, dropout).") var seed: UInt64 = 0
    @Option(help: "Train this many adapters, with seeds --seed, --seed+1, …, and write their uniform average (a model soup): one adapter of rank seeds × --rank whose LoRA deltas and head are the members' mean, one encoder pass per text at inference. Training takes seeds times as long.")
    var seeds = 1
    @Option(help: "With --eval, the parameters to end on: best (the epoch with the best eval accuracy) or last (the eval only reports).")
    var keep: Keep = .best
    @Option(help: "Threads (default: all cores). Results are reproducible for a given seed and thread count.") var threads: Int?
    @Option(name: .shortAndLong, help: "Output adapter directory.") var output: String
    @Flag(help: "Replace an existing output directory.") var force = false

    enum Keep: String, ExpressibleByArgument { case best, last }

    func validate() throws {
        guard seeds >= 1 && seeds <= 64 else { throw ValidationError("--seeds must be in 1...64") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard rank >= 1 else { throw ValidationError("--rank must be at least 1") }
        guard dropout >= 0 && dropout < 1 else { throw ValidationError("--dropout must be in [0, 1)") }
        if let baseDropout, !(baseDropout >= 0 && baseDropout < 1) { throw ValidationError("--base-dropout must be in [0, 1)") }
        guard lr > 0 else { throw ValidationError("--lr must be positive") }
        guard headLr > 0 else { throw ValidationError("--head-lr must be positive") }
        guard labelSmoothing >= 0 && labelSmoothing < 1 else { throw ValidationError("--label-smoothing must be in [0, 1)") }
        guard ema >= 0 && ema < 1 else { throw ValidationError("--ema must be in [0, 1)") }
        guard distil >= 0 && distil <= 1 else { throw ValidationError("--distil must be in [0, 1]") }
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let outputURL = URL(fileURLWithPath: output)
        if FileManager.default.fileExists(atPath: outputURL.path) && !force {
            throw CLIError("\(output) already exists; choose another output directory or pass --force to replace it")
        }
        let encoder = try loadEncoder(model)
        let maxLength = min(self.maxLength, encoder.config.maxPositions)

        // training data
        let trainData = try LabelledTexts.read(URL(fileURLWithPath: train), labelField: labelField, textField: textField)
        reportSkipped(trainData, file: train)
        guard trainData.count > 0 else {
            throw CLIError("\(train): no labelled examples (need one JSON object a line with \"\(textField)\" and \"\(labelField)\")")
        }
        let counts = trainData.labelCounts
        var labels = counts.map(\.label)
        let start: LoRAAdapter?
        do { start = try initial.map { try LoRAAdapter(directory: URL(fileURLWithPath: $0)) } } catch let error as ModelError {
            throw CLIError(error.description)
        }
        if let start, let initial {
            guard !start.labels.isEmpty else {
                throw CLIError("\(initial): no labels (labels.json or config.json id2label); only a classification adapter can be continued")
            }
            let unknown = labels.filter { !start.labels.contains($0) }
            guard unknown.isEmpty else {
                throw CLIError("\(train): label(s) " + unknown.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
                    + " are not among the \(start.labels.count) of \(initial) (labels.json); continue an adapter trained on these labels, or drop those lines")
            }
            // The head keeps every label of the adapter, also those this data lacks.
            labels = start.labels
        }
        guard labels.count >= 2 else {
            throw CLIError("\(train): only one label ('\(labels[0])'); a classifier needs at least two")
        }
        let singletons = counts.filter { $0.count == 1 }.map(\.label)
        if !singletons.isEmpty {
            note("warning: \(singletons.count) label(s) seen only once (kept; too few to learn well): "
                 + singletons.prefix(5).map { "'\($0)'" }.joined(separator: ", ") + (singletons.count > 5 ? ", …" : ""))
        }
        let index = Dictionary(uniqueKeysWithValues: labels.enumerated().map { ($1, Int32($0)) })
        var truncated = 0
        func tokenize(_ texts: [String]) -> [[Int32]] {
            texts.map { text in
                let (ids, cut) = encoder.tokenizer.encode(text, maxLength: maxLength)
                if cut { truncated += 1 }
                return ids
            }
        }
        let trainSequences = tokenize(trainData.texts)
        let trainLabels = trainData.labels.map { index[$0]! }
        let trainTruncated = truncated

        var evalSet: (sequences: [[Int32]], labels: [Int32])?
        if let eval {
            let evalData = try LabelledTexts.read(URL(fileURLWithPath: eval), labelField: labelField, textField: textField)
            reportSkipped(evalData, file: eval)
            var texts: [String] = [], ids: [Int32] = []
            var unknown = 0
            for (t, l) in zip(evalData.texts, evalData.labels) {
                if let id = index[l] { texts.append(t); ids.append(id) } else { unknown += 1 }
            }
            if unknown > 0 { note("\(eval): \(unknown) example(s) with labels not in the training set skipped") }
            guard !texts.isEmpty else { throw CLIError("\(eval): no examples with labels seen in training") }
            truncated = 0
            evalSet = (tokenize(texts), ids)
            if truncated > 0 { note("\(eval): \(truncated) text(s) truncated to \(maxLength) tokens") }
        }
        if trainTruncated > 0 { note("\(train): \(trainTruncated) text(s) truncated to \(maxLength) tokens") }

        var options = FinetuneOptions()
        options.targets = targets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        options.rank = rank; options.alpha = alpha; options.dropout = dropout; options.epochs = epochs
        options.learningRate = lr; options.weightDecay = weightDecay; options.warmupRatio = warmup
        options.headLearningRateMultiplier = headLr
        options.labelSmoothing = labelSmoothing
        options.emaDecay = ema
        options.distilWeight = distil
        options.batch = batch; options.maxLength = maxLength; options.seed = seed; options.patience = patience
        options.keepBestEpoch = keep == .best
        options.hiddenDropout = baseDropout ?? 0
        options.attentionDropout = baseDropout ?? 0
        if let start {
            options.rank = start.config.r
            options.alpha = start.config.loraAlpha
            options.targets = start.config.targetModules
        }
        let threadCount = threads ?? ThreadPool.defaultThreadCount
        let pool = ThreadPool(threads: threadCount)
        let teachers = (teacher ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let teacherProbabilities = teachers.isEmpty ? nil
            : try teacherProbabilities(teachers, texts: trainData.texts, labels: labels, encoder: encoder, maxLength: maxLength, pool: pool)
        func finetuner(_ options: FinetuneOptions) throws -> Finetuner {
            do {
                return try Finetuner(encoder: encoder.encoder, labels: labels, options: options, pool: pool)
            } catch let error as ModelError {
                throw CLIError(error.description)
            }
        }
        // Members train one after another, each put into the soup as soon as it is done.
        let soup = seeds > 1 ? try finetuner(Finetuner.soupOptions(options, members: seeds)) : nil
        var trained: Finetuner?
        var epochLines: [[String: Any]] = []
        for member in 0..<seeds {
            options.seed = seed + UInt64(member)
            let current = try finetuner(options)
            if let start {
                do { try current.start(from: start) } catch let error as ModelError { throw CLIError(error.description) }
            }
            let p = current.trainer.parameters
            note("training \(p.count) parameters (\(p.modules.count) LoRA modules, r \(options.rank), and a \(labels.count)-label head) "
                 + "on \(trainSequences.count) examples, \(epochs) epoch(s), batch \(batch), \(threadCount) thread(s); dropout: LoRA \(dropout), "
                 + "hidden \(options.hiddenDropout), attention \(options.attentionDropout)"
                 + (initial.map { "; continuing \($0)" } ?? "")
                 + (seeds > 1 ? "; soup member \(member + 1) of \(seeds), seed \(options.seed)" : ""))
            let bar = ProgressBar()
            let reports = current.fit(trainSequences, labels: trainLabels, teacher: teacherProbabilities, eval: evalSet, progress: { bar.update($0) }) { report in
                bar.finish()
                var line = String(format: "epoch %d/%d: loss %.4f, %.1f examples/s (%.1f s, CPU %.1f s)",
                                  report.epoch, epochs, report.meanLoss, report.examplesPerSecond, report.wallSeconds, report.cpuSeconds)
                var json: [String: Any] = ["epoch": report.epoch, "loss": report.meanLoss, "examples": report.examples,
                                           "examples_per_s": report.examplesPerSecond, "wall_s": report.wallSeconds,
                                           "cpu_s": report.cpuSeconds, "threads": threadCount, "seed": Int(options.seed)]
                if let m = report.eval {
                    line += String(format: "; eval accuracy %.2f%%, macro-F1 %.3f (%d)", 100 * m.accuracy, m.macroF1, m.count)
                    json["eval_accuracy"] = m.accuracy; json["eval_macro_f1"] = m.macroF1; json["eval_examples"] = m.count
                }
                if let m = report.liveEval {
                    line += String(format: " (moving average; the live parameters: %.2f%%, %.3f)", 100 * m.accuracy, m.macroF1)
                    json["live_eval_accuracy"] = m.accuracy; json["live_eval_macro_f1"] = m.macroF1
                }
                note(line)
                epochLines.append(json)
                printJSONLine(json)
            }
            if let diverged = current.diverged {
                throw CLIError("training diverged\(seeds > 1 ? " (seed \(options.seed))" : ""): the loss is not a finite number at epoch "
                    + "\(diverged.epoch), step \(diverged.step); nothing was written. Lower --lr (now \(lr)) and try again")
            }
            if current.stoppedEarly { note("stopped early: eval accuracy did not improve for \(patience) epoch(s)") }
            if evalSet != nil, keep == .best,
               let best = reports.compactMap({ r in r.eval.map { (r.epoch, $0.accuracy) } }).max(by: { $0.1 < $1.1 }) {
                note(String(format: "keeping epoch %d (eval accuracy %.2f%%)", best.0, 100 * best.1))
            }
            soup?.setSoupMember(current, index: member, of: seeds)
            trained = current
        }
        var extra: [String: Any] = [
            "epochs": epochLines, "labels": labels.count, "train_examples": trainSequences.count,
            "skipped_missing_label": trainData.missingLabel, "skipped_invalid": trainData.invalid,
            "truncated": trainTruncated, "max_length": maxLength, "batch": batch, "learning_rate": Double(lr), "head_lr_multiplier": Double(headLr),
            "label_smoothing": Double(labelSmoothing), "ema_decay": Double(ema),
            "weight_decay": Double(weightDecay), "warmup_ratio": Double(warmup), "seed": Int(seed), "threads": threadCount,
            "hidden_dropout": Double(options.hiddenDropout), "attention_dropout": Double(options.attentionDropout),
            "keep": keep.rawValue,
        ]
        if !teachers.isEmpty {
            extra["teachers"] = teachers
            extra["distil_weight"] = Double(distil)
        }
        if let initial { extra["init"] = initial }
        if let soup {
            extra["soup_seeds"] = (0..<seeds).map { Int(seed) + $0 }
            extra["member_rank"] = options.rank
            if let evalSet {
                let m = soup.evaluate(evalSet.sequences, labels: evalSet.labels)
                note(String(format: "soup of %d: eval accuracy %.2f%%, macro-F1 %.3f (%d)", seeds, 100 * m.accuracy, m.macroF1, m.count))
                let json: [String: Any] = ["soup": seeds, "eval_accuracy": m.accuracy, "eval_macro_f1": m.macroF1, "eval_examples": m.count]
                extra["soup_eval"] = json
                printJSONLine(json)
            }
        }
        do {
            try AdapterWriter.write(soup ?? trained!, baseModel: model, to: outputURL, force: force, extra: extra)
        } catch let error as ModelError {
            throw CLIError(error.description)
        }
        note("wrote \(output)")
    }

    /// The teachers' mean probabilities for each text, in the order of `labels`, each text read as training reads it.
    private func teacherProbabilities(_ directories: [String], texts: [String], labels: [String], encoder: SentenceEncoder,
                                      maxLength: Int, pool: ThreadPool) throws -> [[Float]] {
        let started = Date()
        note("teacher: \(directories.count) adapter(s) reading the \(texts.count) training texts")
        var mean = [[Float]](repeating: [Float](repeating: 0, count: labels.count), count: texts.count)
        for directory in directories {
            let classifier: AdapterClassifier
            do {
                classifier = try AdapterClassifier(model: encoder, adapterDirectory: URL(fileURLWithPath: directory), maxLength: maxLength)
            } catch let error as ModelError {
                throw CLIError(error.description)
            }
            guard Set(classifier.labels) == Set(labels) && classifier.labels.count == labels.count else {
                let missing = Set(labels).subtracting(classifier.labels).sorted(), extra = Set(classifier.labels).subtracting(labels).sorted()
                throw CLIError("\(directory): the teacher's labels are not the training labels (missing: "
                    + (missing.isEmpty ? "none" : missing.prefix(5).joined(separator: ", ")) + "; not in the training data: "
                    + (extra.isEmpty ? "none" : extra.prefix(5).joined(separator: ", ")) + "); use a teacher trained on these labels")
            }
            let column = labels.map { classifier.labels.firstIndex(of: $0)! }
            let share = 1 / Float(directories.count)
            let progress = Progress(label: "teacher \(directory) read", unit: "texts")
            var start = 0
            while start < texts.count {
                let end = min(start + 256, texts.count)
                for (i, p) in classifier.probabilities(Array(texts[start..<end]), pool: pool).enumerated() {
                    for (j, k) in column.enumerated() { mean[start + i][j] += p[k] * share }
                }
                start = end
                progress.update(end)
            }
            progress.finish(texts.count)
        }
        note(String(format: "teacher: done in %.1f s", Date().timeIntervalSince(started)))
        return mean
    }

    private func reportSkipped(_ data: LabelledTexts, file: String) {
        if data.missingLabel > 0 {
            note("\(file): \(data.missingLabel) line(s) without a '\(labelField)' skipped (first at line \(data.firstSkippedLine ?? 0))")
        }
        if data.invalid > 0 {
            note("\(file): \(data.invalid) line(s) that are not JSON objects with a string '\(textField)' skipped")
        }
    }
}

/// A line on stderr.
func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// One JSON object as a line on stdout (sorted keys).
func printJSONLine(_ object: [String: Any]) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
        print(String(decoding: data, as: UTF8.self))
    }
}

/// A per-epoch progress bar on stderr: redrawn in place on a terminal, a line every 10% otherwise.
final class ProgressBar {
    let terminal = isatty(2) == 1
    var lastDraw = Date.distantPast
    var lastTenth = -1

    func update(_ p: StepProgress) {
        let fraction = Double(p.step) / Double(max(p.steps, 1))
        let rate = Double(p.examples) / max(p.elapsed, 1e-9)
        let eta = p.elapsed / max(fraction, 1e-9) - p.elapsed
        let width = 24, filled = Int(fraction * Double(width))
        let text = String(format: "epoch %d/%d [%@%@] %d/%d loss %.4f %.1f ex/s ETA %@",
                          p.epoch, p.epochs, String(repeating: "#", count: filled), String(repeating: ".", count: width - filled),
                          p.step, p.steps, p.meanLoss, rate, Self.duration(eta))
        if terminal {
            guard Date().timeIntervalSince(lastDraw) > 0.2 || p.step == p.steps else { return }
            lastDraw = Date()
            FileHandle.standardError.write(Data(("\r" + text + "   ").utf8))
        } else {
            let tenth = Int(fraction * 10)
            if tenth > lastTenth && tenth < 10 { lastTenth = tenth; note(text) }
        }
    }

    func finish() {
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        lastTenth = -1
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }
}
