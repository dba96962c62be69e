import Foundation

/// Classification quality over labelled units: top-1 accuracy, macro-F1, per-label precision and
/// recall, and the confusion matrix (rows gold, columns predicted).
public struct Evaluation: Sendable, Equatable {
    public struct LabelScore: Sendable, Equatable {
        public var label: String
        public var precision: Double
        public var recall: Double
        public var f1: Double
        /// Gold units with this label.
        public var support: Int
        /// Units predicted as this label.
        public var predicted: Int
    }

    /// Row and column order of `confusion`: the classifier's labels, then gold labels it does not know.
    public let labels: [String]
    public let confusion: [[Int]]
    public let total: Int
    public let correct: Int
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }
    /// Mean F1 over the labels that occur as gold or as prediction (scikit-learn's `f1_score(average="macro")`).
    public let macroF1: Double
    public let perLabel: [LabelScore]

    /// `pairs` are (gold, predicted); `known` fixes the order of the classifier's labels.
    public init(known: [String], pairs: [(gold: String, predicted: String)]) {
        var labels = known
        var index: [String: Int] = [:]
        for (i, l) in labels.enumerated() { index[l] = i }
        for p in pairs {
            for l in [p.gold, p.predicted] where index[l] == nil { index[l] = labels.count; labels.append(l) }
        }
        var m = [[Int]](repeating: [Int](repeating: 0, count: labels.count), count: labels.count)
        var correct = 0
        for p in pairs {
            m[index[p.gold]!][index[p.predicted]!] += 1
            if p.gold == p.predicted { correct += 1 }
        }
        var scores: [LabelScore] = []
        var f1s: [Double] = []
        for (i, l) in labels.enumerated() {
            let tp = m[i][i]
            let support = m[i].reduce(0, +)
            let predicted = m.reduce(0) { $0 + $1[i] }
            let precision = predicted == 0 ? 0 : Double(tp) / Double(predicted)
            let recall = support == 0 ? 0 : Double(tp) / Double(support)
            let f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall)
            scores.append(LabelScore(label: l, precision: precision, recall: recall, f1: f1, support: support, predicted: predicted))
            if support > 0 || predicted > 0 { f1s.append(f1) }
        }
        self.labels = labels
        self.confusion = m
        self.total = pairs.count
        self.correct = correct
        self.perLabel = scores
        self.macroF1 = f1s.isEmpty ? 0 : f1s.reduce(0, +) / Double(f1s.count)
    }

    /// A unit counts as right when the prediction is its label or one of its other labels (CUAD spans may carry several).
    public static func gold(label: String, labels: [String], predicted: String) -> String {
        labels.contains(predicted) ? predicted : label
    }
}
