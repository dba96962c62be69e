// TrainingData: labelled JSONL ({"text": ..., "<label field>": ...}) for fine-tuning, read leniently
// and counted: a line that is not JSON, has no text, or has no label is skipped and counted, never fatal.
import Foundation

public struct LabelledTexts: Sendable {
    public var texts: [String] = []
    public var labels: [String] = []
    /// Lines without the label field (or with an empty / null label): skipped.
    public var missingLabel = 0
    /// Lines that are not a JSON object or have no string text: skipped.
    public var invalid = 0
    /// The first skipped line's number, for messages.
    public var firstSkippedLine: Int?

    public var count: Int { texts.count }

    /// Reads `url`, one JSON object a line; blank lines are ignored.
    public static func read(_ url: URL, labelField: String = "label", textField: String = "text") throws -> LabelledTexts {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ModelError.missingFile(url, hint: "give a JSONL file with one {\"\(textField)\": ..., \"\(labelField)\": ...} object a line")
        }
        var result = LabelledTexts()
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                  let text = object[textField] as? String else {
                result.invalid += 1
                result.firstSkippedLine = result.firstSkippedLine ?? lineNumber
                continue
            }
            let label: String?
            switch object[labelField] {
            case let s as String: label = s.isEmpty ? nil : s
            case let n as NSNumber: label = n.stringValue
            default: label = nil
            }
            guard let label else {
                result.missingLabel += 1
                result.firstSkippedLine = result.firstSkippedLine ?? lineNumber
                continue
            }
            result.texts.append(text)
            result.labels.append(label)
        }
        return result
    }

    /// Labels in sorted order with their counts.
    public var labelCounts: [(label: String, count: Int)] {
        var counts: [String: Int] = [:]
        for l in labels { counts[l, default: 0] += 1 }
        return counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

/// Accuracy and macro-F1 (over the labels present in the truth or the predictions, as scikit-learn's).
public struct ClassificationMetrics: Sendable, Equatable {
    public var accuracy: Double
    public var macroF1: Double
    public var count: Int

    public init(truth: [Int32], predicted: [Int32]) {
        precondition(truth.count == predicted.count)
        count = truth.count
        var correct = 0
        var tp: [Int32: Int] = [:], fp: [Int32: Int] = [:], fn: [Int32: Int] = [:]
        for (t, p) in zip(truth, predicted) {
            if t == p { correct += 1; tp[t, default: 0] += 1 } else { fp[p, default: 0] += 1; fn[t, default: 0] += 1 }
        }
        accuracy = count == 0 ? 0 : Double(correct) / Double(count)
        let classes = Set(truth).union(predicted)
        var f1Sum = 0.0
        for c in classes {
            let t = Double(tp[c] ?? 0), denominator = 2 * t + Double(fp[c] ?? 0) + Double(fn[c] ?? 0)
            f1Sum += denominator == 0 ? 0 : 2 * t / denominator
        }
        macroF1 = classes.isEmpty ? 0 : f1Sum / Double(classes.count)
    }
}
