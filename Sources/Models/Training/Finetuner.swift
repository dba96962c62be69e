// Finetuner: the training loop around BertTrainer — epochs over a seeded shuffle, AdamW with a
// linear warm-up/decay schedule and gradient clipping, evaluation (accuracy, macro-F1) after each
// epoch, early stopping on the eval set keeping the best epoch's parameters.
import Foundation
import Kernels

/// The recipe. Defaults are PEFT's reference recipe for the CUAD comparison.
public struct FinetuneOptions: Sendable {
    public var targets = ["query", "value"]
    public var rank = 8
    public var alpha: Float = 16
    public var dropout: Float = 0.1
    /// The base model's training-mode dropouts (BertModel in train mode: hidden_dropout_prob and
    /// attention_probs_dropout_prob); 0 runs the frozen encoder deterministically. See `configuredDropout`.
    public var hiddenDropout: Float = 0
    public var attentionDropout: Float = 0
    public var epochs = 3
    public var learningRate: Float = 1e-3
    /// The head's learning rate as a multiple of `learningRate` (1: one parameter group, as PEFT's recipe).
    public var headLearningRateMultiplier: Float = 1
    /// Label smoothing ε: each target is (1 − ε)·onehot + ε / labels (0: PEFT's recipe).
    public var labelSmoothing: Float = 0
    /// Decay of an exponential moving average of the parameters (0: off). When on, evaluation, the best
    /// epoch and the parameters the run ends with are the average's; the live parameters still train.
    public var emaDecay: Float = 0
    /// Weight w of a teacher's probabilities in each training target, (1 − w)·onehot + w·teacher (knowledge
    /// distillation); used when `fit` is given the teacher's probabilities.
    public var distilWeight: Float = 0.5
    public var weightDecay: Float = 0.01
    public var warmupRatio: Float = 0.06
    public var maxGradNorm: Float = 1
    public var batch = 32
    public var maxLength = 128
    public var seed: UInt64 = 0
    /// Epochs without a better eval accuracy before stopping (only with an eval set).
    public var patience = 2
    /// With an eval set, end on its best epoch's parameters (false: the last epoch's; the eval only reports).
    public var keepBestEpoch = true
    public init() {}
}

/// What one epoch did.
public struct EpochReport: Sendable {
    public var epoch: Int
    public var meanLoss: Double
    public var examples: Int
    public var wallSeconds: Double
    /// CPU time of the whole process during the epoch (all threads), to judge a shared machine's load.
    public var cpuSeconds: Double
    public var eval: ClassificationMetrics?
    /// With an average of the parameters (`emaDecay`), the live parameters' eval, for comparison with `eval`.
    public var liveEval: ClassificationMetrics?
    public var examplesPerSecond: Double { Double(examples) / max(wallSeconds, 1e-9) }
}

/// Progress within an epoch, for a progress bar.
public struct StepProgress: Sendable {
    public var epoch: Int, epochs: Int
    public var step: Int, steps: Int
    public var examples: Int
    public var meanLoss: Double
    public var elapsed: Double
}

public final class Finetuner {
    public let trainer: BertTrainer
    public let labels: [String]
    public let options: FinetuneOptions
    private var optimizer: AdamW
    /// Parameters of the best epoch on the eval set, restored at the end.
    private var best: (accuracy: Double, values: [Float])?
    public private(set) var stoppedEarly = false
    /// Where the loss stopped being a finite number (epoch, step, both from 1), if it did: training
    /// stops there, the parameters are unusable, and nothing should be written.
    public private(set) var diverged: (epoch: Int, step: Int)?

    public init(encoder: BertEncoder, labels: [String], options: FinetuneOptions, pool: ThreadPool) throws {
        guard options.batch >= 1 else { throw ModelError.invalidInput("batch must be at least 1") }
        guard options.epochs >= 1 else { throw ModelError.invalidInput("epochs must be at least 1") }
        guard options.emaDecay >= 0 && options.emaDecay < 1 else { throw ModelError.invalidInput("the EMA decay must be in [0, 1)") }
        self.labels = labels
        self.options = options
        trainer = try BertTrainer(encoder: encoder, labels: labels.count, targets: options.targets, rank: options.rank,
                                  alpha: options.alpha, dropout: options.dropout, hiddenDropout: options.hiddenDropout,
                                  attentionDropout: options.attentionDropout,
                                  headLearningRate: options.headLearningRateMultiplier,
                                  labelSmoothing: options.labelSmoothing, distilWeight: options.distilWeight, batch: options.batch,
                                  maxLength: options.maxLength, seed: options.seed, pool: pool)
        optimizer = AdamW(parameters: trainer.parameters.count, learningRate: options.learningRate,
                          weightDecay: options.weightDecay)
    }

    /// Continues a trained classification adapter (its LoRA pairs and head) instead of starting from PEFT's
    /// initialisation; its labels must be this finetuner's, in the same order, and its rank, alpha and targets
    /// the options'.
    public func start(from adapter: LoRAAdapter) throws {
        guard adapter.labels == labels else {
            throw ModelError.adapter(adapter.directory.appendingPathComponent("labels.json"),
                                     "its labels (\(adapter.labels.count)) are not the \(labels.count) being trained, in order")
        }
        try trainer.parameters.load(from: adapter)
    }

    /// Trains on tokenised `sequences` with label ids (and a teacher's probabilities for each, in label order,
    /// when distilling); evaluates on `eval` after each epoch when given.
    public func fit(_ sequences: [[Int32]], labels ids: [Int32], teacher: [[Float]]? = nil,
                    eval: (sequences: [[Int32]], labels: [Int32])? = nil,
                    progress: (StepProgress) -> Void = { _ in }, epochDone: (EpochReport) -> Void = { _ in }) -> [EpochReport] {
        precondition(sequences.count == ids.count && !sequences.isEmpty && (teacher?.count ?? ids.count) == ids.count)
        let batch = options.batch
        let stepsPerEpoch = (sequences.count + batch - 1) / batch
        let total = stepsPerEpoch * options.epochs
        let warmup = Int((Float(total) * options.warmupRatio).rounded(.up))
        let p = trainer.parameters
        var reports: [EpochReport] = []
        var sinceBest = 0
        // The average starts at the initial parameters; its early steps are discounted as TensorFlow's
        // ExponentialMovingAverage does (decay min(d, (1 + t) / (10 + t))), so it does not lag behind them.
        var average = options.emaDecay > 0 ? p.snapshot() : []
        for epoch in 0..<options.epochs {
            // seeded shuffle (Fisher–Yates), one stream per epoch
            var order = Array(0..<sequences.count)
            var rng = SplitMix64(seed: options.seed, 0x5348_5546, UInt64(epoch))
            order.shuffle(using: &rng)
            let start = Date(), cpuStart = processCPUSeconds()
            var lossSum = 0.0, seen = 0
            for step in 0..<stepsPerEpoch {
                let lo = step * batch, hi = min(lo + batch, order.count)
                let batchSequences = order[lo..<hi].map { sequences[$0] }
                let batchLabels = order[lo..<hi].map { ids[$0] }
                let batchSoft = teacher.map { t in order[lo..<hi].map { t[$0] }[...] }
                let loss = trainer.computeGradients(batchSequences[...], labels: batchLabels[...], soft: batchSoft)
                guard loss.isFinite else {
                    diverged = (epoch + 1, step + 1)
                    return reports
                }
                AdamW.clip(p.gradients, count: p.count, maxNorm: options.maxGradNorm)
                let lr = AdamW.linearSchedule(base: options.learningRate, step: epoch * stepsPerEpoch + step, total: total, warmup: warmup)
                optimizer.update(values: p.values, gradients: p.gradients, decay: p.decay, rate: p.rate, count: p.count, lr: lr)
                if !average.isEmpty {
                    let t = Float(epoch * stepsPerEpoch + step + 1)
                    Self.accumulate(&average, p.values, decay: min(options.emaDecay, (1 + t) / (10 + t)))
                }
                lossSum += Double(loss) * Double(hi - lo)
                seen += hi - lo
                progress(StepProgress(epoch: epoch + 1, epochs: options.epochs, step: step + 1, steps: stepsPerEpoch,
                                      examples: seen, meanLoss: lossSum / Double(seen), elapsed: Date().timeIntervalSince(start)))
            }
            var report = EpochReport(epoch: epoch + 1, meanLoss: lossSum / Double(max(seen, 1)), examples: seen,
                                     wallSeconds: Date().timeIntervalSince(start), cpuSeconds: processCPUSeconds() - cpuStart)
            if let eval {
                var live: [Float] = []
                if !average.isEmpty {
                    report.liveEval = evaluate(eval.sequences, labels: eval.labels)
                    live = p.snapshot()
                    p.restore(average)
                }
                let metrics = evaluate(eval.sequences, labels: eval.labels)
                report.eval = metrics
                if best == nil || metrics.accuracy > best!.accuracy {
                    best = (metrics.accuracy, p.snapshot())
                    sinceBest = 0
                } else {
                    sinceBest += 1
                }
                if !live.isEmpty { p.restore(live) }
            }
            reports.append(report)
            epochDone(report)
            if eval != nil && sinceBest >= options.patience && epoch + 1 < options.epochs {
                stoppedEarly = true
                break
            }
        }
        if let best, eval != nil, options.keepBestEpoch {
            p.restore(best.values)
        } else if !average.isEmpty {
            p.restore(average)
        }
        return reports
    }

    /// average ← decay · average + (1 − decay) · values.
    static func accumulate(_ average: inout [Float], _ values: UnsafeMutablePointer<Float>, decay: Float) {
        let keep = SIMD16<Float>(repeating: decay), take = SIMD16<Float>(repeating: 1 - decay)
        average.withUnsafeMutableBufferPointer { a in
            let n = a.count
            var i = 0
            while i + 16 <= n {
                let v = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD16<Float>.self)
                let x = UnsafeRawPointer(a.baseAddress! + i).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(a.baseAddress! + i).storeBytes(of: x * keep + v * take, as: SIMD16<Float>.self)
                i += 16
            }
            while i < n { a[i] = decay * a[i] + (1 - decay) * values[i]; i += 1 }
        }
    }

    /// The recipe of a soup of `members` finetuners trained with `options`: their ranks stacked, the same scale.
    public static func soupOptions(_ options: FinetuneOptions, members: Int) -> FinetuneOptions {
        var o = options
        o.rank = options.rank * members
        o.alpha = options.alpha * Float(members)
        return o
    }

    /// Makes `member` the `index`-th of `members` equal parts of this finetuner's parameters, which must have
    /// been made with `soupOptions`: after all members are in, it predicts with their uniform average (LoRA
    /// deltas and heads), one adapter read in one encoder pass.
    public func setSoupMember(_ member: Finetuner, index: Int, of members: Int) {
        precondition(member.labels == labels && member.options.targets == options.targets)
        trainer.parameters.setSoupMember(member.trainer.parameters, index: index, of: members)
    }

    /// Predicted label ids and their probabilities, `options.batch` sequences at a time.
    public func predict(_ sequences: [[Int32]]) -> [(label: Int32, score: Float)] {
        trainer.predict(sequences[...]).map { probs in
            var best = 0
            for j in 1..<probs.count where probs[j] > probs[best] { best = j }
            return (Int32(best), probs[best])
        }
    }

    public func evaluate(_ sequences: [[Int32]], labels truth: [Int32]) -> ClassificationMetrics {
        ClassificationMetrics(truth: truth, predicted: predict(sequences).map(\.label))
    }
}

/// hidden_dropout_prob and attention_probs_dropout_prob of a Hugging Face config.json (BERT's 0.1 when absent).
public func configuredDropout(modelDirectory: URL) -> (hidden: Float, attention: Float) {
    let url = modelDirectory.appendingPathComponent("config.json")
    guard let data = try? Data(contentsOf: url),
          let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return (0.1, 0.1) }
    let hidden = (object["hidden_dropout_prob"] as? NSNumber)?.floatValue ?? 0.1
    let attention = (object["attention_probs_dropout_prob"] as? NSNumber)?.floatValue ?? 0.1
    return (hidden, attention)
}

/// User + system CPU seconds of this process so far.
public func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}
