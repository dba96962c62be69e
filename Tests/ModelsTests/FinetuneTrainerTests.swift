import Foundation
import Kernels
import Models
import TestSupport
import XCTest

/// The trainer on tiny random-weight models: whole-model gradients against finite differences,
/// learning a separable toy set, determinism, and the adapter directory it writes.
final class FinetuneTrainerTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TinyBert.temporaryDirectory("finetune") }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// Finite differences of the whole model's loss in float32: step and tolerance for parameters of size ~0.1–1.
    static let step: Float = 2e-3
    static let absolute: Float = 2e-3, relative: Float = 3e-2

    static let toyTexts: [(String, String)] = [
        ("the party shall pay the fee", "payment"), ("a party shall pay fees", "payment"),
        ("the party shall pay a fee .", "payment"), ("pay the fees , party", "payment"),
        ("notice . notice , b", "notice"), ("b notice notice .", "notice"),
        ("a notice , b .", "notice"), ("notice b b , notice", "notice"),
    ]

    func model(layers: Int = 2) throws -> SentenceEncoder {
        let config = TinyBert.config(hidden: 32, layers: layers, heads: 2, intermediate: 48)
        return try SentenceEncoder(directory: TinyBert.write(to: directory.appendingPathComponent("model"), config: config))
    }

    func toy(_ model: SentenceEncoder) -> (sequences: [[Int32]], labels: [Int32], names: [String]) {
        let names = Array(Set(Self.toyTexts.map(\.1))).sorted()
        return (Self.toyTexts.map { model.tokenizer.encode($0.0, maxLength: 16).ids },
                Self.toyTexts.map { Int32(names.firstIndex(of: $0.1)!) }, names)
    }

    /// Every projection targeted; with dropout, every training-mode dropout is on and the masks are
    /// pinned (same step) so the finite differences see the same function.
    func checkWholeModelGradients(dropout: Float, hidden: Float, attention: Float) throws {
        let model = try model()
        let (sequences, labels, _) = toy(model)
        let trainer = try BertTrainer(encoder: model.encoder, labels: 2, targets: ["query", "key", "value", "dense"],
                                      rank: 2, alpha: 4, dropout: dropout, hiddenDropout: hidden, attentionDropout: attention,
                                      batch: 8, maxLength: 16, seed: 3, pool: ThreadPool(threads: 2))
        let p = trainer.parameters
        // B starts at zero (so A's gradient would be zero): give every parameter a random value.
        var rng = TinyBert.SplitMix(seed: 9)
        for i in 0..<p.count { p.values[i] = Float.random(in: -0.5...0.5, using: &rng) }
        func loss() -> Float {
            trainer.dropoutStep = 41
            return trainer.computeGradients(sequences[...], labels: labels[...])
        }
        _ = loss()
        let analytic = Array(UnsafeBufferPointer(start: p.gradients, count: p.count))
        // Every module's A and B and the head, a few entries each.
        var indices: [Int] = []
        for m in p.modules { indices += [m.a, m.a + m.rank * m.inFeatures - 1, m.b, m.b + 3] }
        indices += [p.headWeight, p.headWeight + 5, p.headBias + 1]
        var worst: Float = 0
        for i in indices {
            let saved = p.values[i]
            p.values[i] = saved + Self.step
            let plus = loss()
            p.values[i] = saved - Self.step
            let minus = loss()
            p.values[i] = saved
            let numeric = (plus - minus) / (2 * Self.step)
            worst = max(worst, abs(analytic[i] - numeric))
            XCTAssertEqual(analytic[i], numeric, accuracy: Self.absolute + Self.relative * abs(numeric), "parameter \(i)")
        }
        print("whole-model gradient check (dropouts \(dropout), \(hidden), \(attention)): \(indices.count) parameters, max |analytic − numeric| \(worst)")
    }

    func testWholeModelGradientsMatchFiniteDifferences() throws {
        try checkWholeModelGradients(dropout: 0, hidden: 0, attention: 0)
    }

    func testWholeModelGradientsWithEveryDropoutMatchFiniteDifferences() throws {
        try checkWholeModelGradients(dropout: 0.2, hidden: 0.1, attention: 0.1)
    }

    func testTinyModelLearnsASeparableToySet() throws {
        let model = try model()
        let (sequences, labels, names) = toy(model)
        var options = FinetuneOptions()
        options.batch = 4; options.epochs = 12; options.maxLength = 16; options.learningRate = 1e-2
        options.targets = ["query", "value"]; options.rank = 4; options.alpha = 8
        let finetuner = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: ThreadPool(threads: 2))
        let reports = finetuner.fit(sequences, labels: labels)
        XCTAssertLessThan(reports.last!.meanLoss, reports.first!.meanLoss * 0.5, "loss \(reports.map(\.meanLoss))")
        XCTAssertEqual(finetuner.evaluate(sequences, labels: labels).accuracy, 1)
    }

    func adapterBytes(seed: UInt64, threads: Int) throws -> Data {
        let model = try model()
        let (sequences, labels, names) = toy(model)
        var options = FinetuneOptions()
        options.batch = 3; options.epochs = 2; options.maxLength = 16; options.seed = seed; options.dropout = 0.1
        options.hiddenDropout = 0.1; options.attentionDropout = 0.1
        let finetuner = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: ThreadPool(threads: threads))
        _ = finetuner.fit(sequences, labels: labels)
        return try AdapterWriter.weights(finetuner.trainer.parameters)
    }

    func testSameSeedAndThreadsGiveBitIdenticalAdapters() throws {
        let a = try adapterBytes(seed: 5, threads: 2), b = try adapterBytes(seed: 5, threads: 2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, try adapterBytes(seed: 6, threads: 2))
    }

    func testAdapterDirectoryLoadsThroughLoRAAdapterAndTheClassifierAgrees() throws {
        let model = try model()
        let (sequences, labels, names) = toy(model)
        var options = FinetuneOptions()
        options.batch = 4; options.epochs = 3; options.maxLength = 16; options.learningRate = 1e-2
        let pool = ThreadPool(threads: 2)
        let finetuner = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: pool)
        _ = finetuner.fit(sequences, labels: labels)
        let out = directory.appendingPathComponent("adapter")
        try AdapterWriter.write(finetuner, baseModel: "tiny", to: out)
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: out.path)),
                       ["adapter_config.json", "adapter_model.safetensors", "labels.json"])
        // No temporary directory is left beside it.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains("partial") }, [])

        let adapter = try model.loadAdapter(out)
        XCTAssertEqual(adapter.config.taskType, "SEQ_CLS")
        XCTAssertEqual(adapter.config.modulesToSave, ["classifier"])
        XCTAssertEqual(adapter.config.r, 8)
        XCTAssertEqual(adapter.labels, names)
        XCTAssertEqual(Set(adapter.pairs.keys), ["encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value",
                                                 "encoder.layer.1.attention.self.query", "encoder.layer.1.attention.self.value"])
        XCTAssertEqual(adapter.pairs["encoder.layer.1.attention.self.value"]!.a.shape, [8, 32])
        XCTAssertEqual(adapter.pairs["encoder.layer.1.attention.self.value"]!.b.shape, [32, 8])
        XCTAssertEqual(adapter.pairs["encoder.layer.1.attention.self.value"]!.scale, 2)
        XCTAssertEqual(adapter.savedTensors["classifier.weight"]?.shape, [2, 32])
        XCTAssertEqual(adapter.savedTensors["classifier.bias"]?.shape, [2])

        // The classifier (base forward + LoRA at the matmul + head) agrees with the trainer's own forward.
        let classifier = try AdapterClassifier(model: model, adapter: adapter, maxLength: 16)
        let texts = Self.toyTexts.map(\.0)
        let viaAdapter = classifier.probabilities(texts, pool: pool)
        let viaTrainer = finetuner.trainer.predict(sequences[...])
        for (a, b) in zip(viaAdapter, viaTrainer) {
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(a, b), 1e-5)
        }
        XCTAssertEqual(classifier.predict(texts, pool: pool).map(\.label), finetuner.predict(sequences).map { names[Int($0.label)] })
    }

    /// Two epochs of rank-4 pairs on query and value at a learning rate the toy set moves under.
    static func shortRunOptions() -> FinetuneOptions {
        var options = FinetuneOptions()
        options.batch = 4; options.epochs = 2; options.maxLength = 16; options.learningRate = 1e-2
        options.targets = ["query", "value"]; options.rank = 4; options.alpha = 8
        return options
    }

    func testContinuingAWrittenAdapterStartsExactlyWhereItEndedAndTrainsOn() throws {
        let model = try model()
        let (sequences, labels, names) = toy(model)
        let pool = ThreadPool(threads: 2)
        var options = Self.shortRunOptions()
        let first = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: pool)
        _ = first.fit(sequences, labels: labels)
        let out = directory.appendingPathComponent("stage1")
        try AdapterWriter.write(first, baseModel: "tiny", to: out)
        let adapter = try model.loadAdapter(out)

        options.seed = 7
        let second = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: pool)
        try second.start(from: adapter)
        // Every LoRA value and the head are the written adapter's, bit for bit.
        XCTAssertEqual(try AdapterWriter.weights(second.trainer.parameters), try AdapterWriter.weights(first.trainer.parameters))
        let before = try AdapterWriter.weights(second.trainer.parameters)
        _ = second.fit(Array(sequences.prefix(4)), labels: Array(labels.prefix(4)))
        XCTAssertNotEqual(try AdapterWriter.weights(second.trainer.parameters), before, "training went on from the adapter")

        // Another rank, other targets or other labels are refused, naming the file.
        var other = options; other.rank = 2; other.alpha = 4
        let wrongRank = try Finetuner(encoder: model.encoder, labels: names, options: other, pool: pool)
        XCTAssertThrowsError(try wrongRank.start(from: adapter)) { error in
            XCTAssertTrue("\(error)".contains("adapter_model.safetensors"), "\(error)")
        }
        other = options; other.targets = ["query", "key", "value"]
        let wrongTargets = try Finetuner(encoder: model.encoder, labels: names, options: other, pool: pool)
        XCTAssertThrowsError(try wrongTargets.start(from: adapter)) { error in
            XCTAssertTrue("\(error)".contains("missing: encoder.layer.0.attention.self.key"), "\(error)")
        }
        let wrongLabels = try Finetuner(encoder: model.encoder, labels: names.reversed(), options: options, pool: pool)
        XCTAssertThrowsError(try wrongLabels.start(from: adapter)) { error in
            XCTAssertTrue("\(error)".contains("labels.json"), "\(error)")
        }
    }

    func testADivergingRunStopsAndSaysWhere() throws {
        let model = try model()
        let (sequences, labels, names) = toy(model)
        var options = FinetuneOptions()
        options.batch = 4; options.epochs = 3; options.maxLength = 16; options.learningRate = 1e30
        let finetuner = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: ThreadPool(threads: 1))
        _ = finetuner.fit(sequences, labels: labels)
        let diverged = try XCTUnwrap(finetuner.diverged)
        XCTAssertTrue((1...3).contains(diverged.epoch) && (1...2).contains(diverged.step), "\(diverged)")
    }

    func testAnExistingOutputDirectoryIsRefusedUnlessForced() throws {
        let model = try model()
        let (_, _, names) = toy(model)
        var options = FinetuneOptions(); options.maxLength = 16
        let finetuner = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: ThreadPool(threads: 1))
        let out = directory.appendingPathComponent("exists")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        XCTAssertThrowsError(try AdapterWriter.write(finetuner, baseModel: "tiny", to: out)) { error in
            XCTAssertTrue("\(error)".contains("already exists"), "\(error)")
        }
        try AdapterWriter.write(finetuner, baseModel: "tiny", to: out, force: true)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("adapter_model.safetensors").path))
    }

    func testATargetTheModelDoesNotHaveIsRefusedNamingIt() throws {
        let model = try model()
        XCTAssertThrowsError(try BertTrainer(encoder: model.encoder, labels: 2, targets: ["query", "q_proj"], rank: 2, alpha: 4,
                                             dropout: 0, batch: 2, maxLength: 16, seed: 0, pool: ThreadPool(threads: 1))) { error in
            XCTAssertTrue("\(error)".contains("'q_proj'"), "\(error)")
        }
    }

    func testTrainingDataSkipsAndCountsLinesWithoutLabels() throws {
        let file = directory.appendingPathComponent("train.jsonl")
        let lines = [#"{"text": "a", "label": "x"}"#, #"{"text": "b"}"#, "not json", "", #"{"text": "c", "label": ""}"#,
                     #"{"text": "d", "label": 3}"#, #"{"label": "x"}"#]
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let data = try LabelledTexts.read(file)
        XCTAssertEqual(data.texts, ["a", "d"])
        XCTAssertEqual(data.labels, ["x", "3"])
        XCTAssertEqual(data.missingLabel, 2)
        XCTAssertEqual(data.invalid, 2)
        XCTAssertEqual(data.firstSkippedLine, 2)
    }

    func testMetricsAccuracyAndMacroF1() {
        let m = ClassificationMetrics(truth: [0, 0, 1, 1, 2], predicted: [0, 1, 1, 1, 0])
        XCTAssertEqual(m.accuracy, 0.6, accuracy: 1e-12)
        // F1: class 0: tp 1, fp 1, fn 1 → 0.5; class 1: tp 2, fp 1 → 0.8; class 2: 0 → mean 0.4333…
        XCTAssertEqual(m.macroF1, (0.5 + 0.8 + 0) / 3, accuracy: 1e-12)
    }

    func testScheduleWarmsUpThenDecaysToZero() {
        XCTAssertEqual(AdamW.linearSchedule(base: 1, step: 0, total: 100, warmup: 6), 0)
        XCTAssertEqual(AdamW.linearSchedule(base: 1, step: 3, total: 100, warmup: 6), 0.5)
        XCTAssertEqual(AdamW.linearSchedule(base: 1, step: 6, total: 100, warmup: 6), 1)
        XCTAssertEqual(AdamW.linearSchedule(base: 1, step: 53, total: 100, warmup: 6), 0.5)
        XCTAssertEqual(AdamW.linearSchedule(base: 1, step: 100, total: 100, warmup: 6), 0)
    }

    func testAdamWRateMultiplierScalesTheStepAndTheDecayOfItsParameters() {
        // Step 1 with g = 0.5: m̂ = 0.5, √v̂ = 0.5, so the Adam step is lr·r; decoupled decay takes r·lr·wd·p first.
        var adam = AdamW(parameters: 3, learningRate: 0.01, weightDecay: 0.1)
        var values: [Float] = [1, 1, 1]
        let gradients: [Float] = [0.5, 0.5, 0.5], decay: [Float] = [1, 1, 0], rate: [Float] = [1, 10, 10]
        adam.update(values: &values, gradients: gradients, decay: decay, rate: rate, count: 3, lr: 0.01)
        XCTAssertEqual(values[0], 1 - 0.001 - 0.01, accuracy: 1e-6)
        XCTAssertEqual(values[1], 1 - 0.01 - 0.1, accuracy: 1e-6)
        XCTAssertEqual(values[2], 1 - 0.1, accuracy: 1e-6)
        // Without `rate` every parameter is in one group: the same as rate 1.
        var plain = AdamW(parameters: 1, learningRate: 0.01, weightDecay: 0.1)
        var one: [Float] = [1]
        plain.update(values: &one, gradients: [0.5], decay: [1], count: 1, lr: 0.01)
        XCTAssertEqual(one[0], values[0])
    }

    func testHeadLearningRateMultiplierAppliesToTheHeadOnly() throws {
        let model = try model()
        let trainer = try BertTrainer(encoder: model.encoder, labels: 2, targets: ["query"], rank: 2, alpha: 4, dropout: 0,
                                      headLearningRate: 30, batch: 8, maxLength: 16, seed: 3, pool: ThreadPool(threads: 1))
        let p = trainer.parameters
        let rates = Array(UnsafeBufferPointer(start: p.rate, count: p.count))
        XCTAssertEqual(Set(rates[..<p.headWeight]), [1])
        XCTAssertEqual(Set(rates[p.headWeight...]), [30])
        XCTAssertEqual(rates.count - p.headWeight, 2 * 32 + 2)
        XCTAssertThrowsError(try BertTrainer(encoder: model.encoder, labels: 2, targets: ["query"], rank: 2, alpha: 4, dropout: 0,
                                             headLearningRate: 0, batch: 8, maxLength: 16, seed: 3, pool: ThreadPool(threads: 1)))
    }

    /// ΔW = scale · B · A of one LoRA module, [out, in].
    func delta(_ p: TrainableParameters, _ m: TrainableParameters.Module) -> [Float] {
        var w = [Float](repeating: 0, count: m.outFeatures * m.inFeatures)
        for o in 0..<m.outFeatures {
            for k in 0..<m.rank {
                let b = p.values[m.b + o * m.rank + k] * p.scale
                for i in 0..<m.inFeatures { w[o * m.inFeatures + i] += b * p.values[m.a + k * m.inFeatures + i] }
            }
        }
        return w
    }

    func testASoupIsTheMembersMeanAndLoadsAsOneAdapter() throws {
        let model = try model()
        let (sequences, labels, names) = toy(model)
        let pool = ThreadPool(threads: 2)
        var options = Self.shortRunOptions()
        func member(seed: UInt64) throws -> Finetuner {
            var o = options; o.seed = seed
            let f = try Finetuner(encoder: model.encoder, labels: names, options: o, pool: pool)
            _ = f.fit(sequences, labels: labels)
            return f
        }
        let members = [try member(seed: 1), try member(seed: 2)]
        let soup = try Finetuner(encoder: model.encoder, labels: names, options: Finetuner.soupOptions(options, members: 2), pool: pool)
        for (i, m) in members.enumerated() { soup.setSoupMember(m, index: i, of: 2) }

        // Each module's weight change is the mean of the members' (exact up to rounding), and so is the head.
        let s = soup.trainer.parameters, a = members[0].trainer.parameters, b = members[1].trainer.parameters
        XCTAssertEqual(s.rank, 8)
        XCTAssertEqual(s.scale, a.scale)
        for (k, m) in s.modules.enumerated() {
            let mean = zip(delta(a, a.modules[k]), delta(b, b.modules[k])).map { ($0 + $1) / 2 }
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(delta(s, m), mean), 1e-6, m.name)
            XCTAssertGreaterThan(mean.map(abs).max()!, 1e-3, "the members learned something in \(m.name)")
        }
        for j in 0..<(s.labels * s.hidden + s.labels) {
            XCTAssertEqual(s.values[s.headWeight + j], (a.values[a.headWeight + j] + b.values[b.headWeight + j]) / 2, accuracy: 1e-7)
        }

        // Written, it is one rank-8 adapter with the members' scale, and the classifier agrees with the soup.
        let out = directory.appendingPathComponent("soup")
        try AdapterWriter.write(soup, baseModel: "tiny", to: out)
        let adapter = try model.loadAdapter(out)
        XCTAssertEqual(adapter.config.r, 8)
        XCTAssertEqual(adapter.pairs["encoder.layer.0.attention.self.query"]!.a.shape, [8, 32])
        XCTAssertEqual(adapter.pairs["encoder.layer.0.attention.self.query"]!.scale, 2)
        let classifier = try AdapterClassifier(model: model, adapter: adapter, maxLength: 16)
        for (x, y) in zip(classifier.probabilities(Self.toyTexts.map(\.0), pool: pool), soup.trainer.predict(sequences[...])) {
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(x, y), 1e-5)
        }

        // A soup of one model twice is that model.
        let twice = try Finetuner(encoder: model.encoder, labels: names, options: Finetuner.soupOptions(options, members: 2), pool: pool)
        twice.setSoupMember(members[0], index: 0, of: 2)
        twice.setSoupMember(members[0], index: 1, of: 2)
        for (x, y) in zip(twice.trainer.predict(sequences[...]), members[0].trainer.predict(sequences[...])) {
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(x, y), 1e-5)
        }
    }

    func testKeepingTheLastEpochEndsWhereARunWithoutEvalEnds() throws {
        let model = try model()
        let (sequences, labels, names) = toy(model)
        func weights(eval: Bool, keepBest: Bool) throws -> (Data, [EpochReport]) {
            var options = FinetuneOptions()
            options.batch = 4; options.epochs = 4; options.maxLength = 16; options.learningRate = 3e-2; options.patience = 100
            options.keepBestEpoch = keepBest
            let f = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: ThreadPool(threads: 2))
            // Evaluating on the first half only, so that an earlier epoch can tie or win.
            let reports = f.fit(sequences, labels: labels, eval: eval ? (Array(sequences[..<2]), Array(labels[..<2])) : nil)
            return (try AdapterWriter.weights(f.trainer.parameters), reports)
        }
        let plain = try weights(eval: false, keepBest: true).0
        let (last, reports) = try weights(eval: true, keepBest: false)
        XCTAssertEqual(reports.count, 4)
        XCTAssertNotNil(reports[0].eval)
        XCTAssertEqual(last, plain)
        // Keeping the best epoch keeps the first of the best: here an earlier one than the last.
        let firstBest = reports.firstIndex { $0.eval!.accuracy == reports.map { $0.eval!.accuracy }.max()! }!
        XCTAssertLessThan(firstBest, 3, "accuracies \(reports.map { $0.eval!.accuracy })")
        XCTAssertNotEqual(try weights(eval: true, keepBest: true).0, plain)
    }

    func testAMovingAverageIsWhatTheRunEndsOnAndLeavesTrainingAlone() throws {
        let model = try model()
        let (sequences, labels, names) = toy(model)
        var options = FinetuneOptions()
        options.batch = 4; options.epochs = 3; options.maxLength = 16; options.learningRate = 3e-2; options.patience = 100
        options.keepBestEpoch = false
        let plain = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: ThreadPool(threads: 2))
        let plainReports = plain.fit(sequences, labels: labels, eval: (sequences, labels))
        let p0 = plain.trainer.parameters
        let plainEnd = Array(UnsafeBufferPointer(start: p0.values, count: p0.count))

        options.emaDecay = 0.9
        let averaged = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: ThreadPool(threads: 2))
        let p = averaged.trainer.parameters
        // The average, recomputed here from the live parameters after every step.
        var expected = Array(UnsafeBufferPointer(start: p.values, count: p.count)), live = expected, steps = 0
        let reports = averaged.fit(sequences, labels: labels, eval: (sequences, labels), progress: { _ in
            steps += 1
            live = Array(UnsafeBufferPointer(start: p.values, count: p.count))
            let d = min(Float(0.9), Float(1 + steps) / Float(10 + steps))
            for i in expected.indices { expected[i] = d * expected[i] + (1 - d) * live[i] }
        })
        XCTAssertEqual(steps, 2 * 3)
        // Training itself is untouched: the live parameters end where the run without an average ends,
        // and each epoch's live eval is that run's eval.
        XCTAssertEqual(live, plainEnd)
        XCTAssertEqual(reports.map { $0.liveEval!.accuracy }, plainReports.map { $0.eval!.accuracy })
        XCTAssertNil(plainReports[0].liveEval)
        // The run ends on the average, which is not the last step's parameters.
        let end = Array(UnsafeBufferPointer(start: p.values, count: p.count))
        XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(end, expected), 1e-6)
        XCTAssertGreaterThan(Tolerance.maxAbsDifference(end, live), 1e-3)
        XCTAssertEqual(reports.last!.eval!.accuracy, averaged.evaluate(sequences, labels: labels).accuracy)

        options.emaDecay = 1
        XCTAssertThrowsError(try Finetuner(encoder: model.encoder, labels: names, options: options, pool: ThreadPool(threads: 1)))
    }

    func testATeacherThatAgreesWithTheLabelsChangesNothingAndAnotherDoes() throws {
        let model = try model()
        let (sequences, labels, names) = toy(model)
        func trained(teacher: [[Float]]?) throws -> [Float] {
            var options = FinetuneOptions()
            options.batch = 4; options.epochs = 2; options.maxLength = 16; options.learningRate = 1e-2; options.distilWeight = 0.5
            let f = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: ThreadPool(threads: 2))
            _ = f.fit(sequences, labels: labels, teacher: teacher)
            let p = f.trainer.parameters
            return Array(UnsafeBufferPointer(start: p.values, count: p.count))
        }
        let oneHot = labels.map { l in names.indices.map { $0 == Int(l) ? Float(1) : 0 } }
        let plain = try trained(teacher: nil)
        // (1 − w)·onehot + w·onehot is the one-hot target, bit for bit.
        XCTAssertEqual(try trained(teacher: oneHot), plain)
        XCTAssertGreaterThan(Tolerance.maxAbsDifference(try trained(teacher: labels.map { _ in [0.5, 0.5] }), plain), 1e-4)
    }
}
