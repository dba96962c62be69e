import Foundation

/// Documents per second of each job from successive observations of its done count, for when the
/// coordinator does not report a rate. The rate is the slope over the observations of the last
/// `window` seconds, so one slow poll does not swing it.
public struct RateTracker: Sendable {
    public let window: Double
    /// Shortest span that gives a rate; closer observations are mostly noise.
    public let minimumSpan: Double
    private var samples: [String: [(docs: UInt64, at: Double)]] = [:]

    public init(window: Double = 30, minimumSpan: Double = 0.5) {
        self.window = window; self.minimumSpan = minimumSpan
    }

    /// Records `docs` done for `job` at `at` (seconds on any steady clock) and returns the rate, nil
    /// until observations span `minimumSpan`.
    public mutating func observe(_ job: String, docs: UInt64, at: Double) -> Double? {
        var list = samples[job, default: []]
        if let last = list.last, docs < last.docs || at < last.at { list.removeAll() }  // restarted or reset
        list.append((docs, at))
        while list.count > 2, at - list[1].at >= window { list.removeFirst() }
        samples[job] = list
        guard let first = list.first, at - first.at >= minimumSpan else { return nil }
        return Double(docs - first.docs) / (at - first.at)
    }

    /// Forgets jobs not in `jobs` (finished and no longer shown).
    public mutating func keep(only jobs: Set<String>) {
        samples = samples.filter { jobs.contains($0.key) }
    }
}
