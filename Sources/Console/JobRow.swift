import Coordinator
import Foundation

/// One job's progress as text cells: the single rendering of a job that `dojo top`, `dojo status`
/// and `dojo submit --wait` lay out as a table row or a line.
public struct JobRow: Equatable, Sendable {
    public var id: String
    public var name: String
    public var state: String
    public var fraction: Double
    /// `512/1000 docs`
    public var docs: String
    /// `120.5 docs/s` or `-`
    public var rate: String
    /// `3m07s` or `-`
    public var eta: String
    /// Documents that became error records.
    public var errorCount: UInt64
    /// `2 errors`
    public var errors: String
    /// Why a job failed.
    public var failure: String?

    /// `observedRate` is the client's own measurement (RateTracker), used when the coordinator
    /// reports none. A finished job shows its average over the run; a running job without any rate
    /// yet shows its average since it started. `nowMs` is wall-clock milliseconds.
    public init(_ job: JobStatus, observedRate: Double?, nowMs: UInt64) {
        id = job.id
        name = job.name.isEmpty ? job.task : job.name
        state = job.state
        let done = min(job.documentsDone, job.documentsTotal)
        if job.documentsTotal > 0 {
            fraction = Double(done) / Double(job.documentsTotal)
        } else {
            fraction = job.state == "completed" ? 1 : 0
        }
        docs = "\(job.documentsDone)/\(job.documentsTotal) docs"
        errorCount = job.documentErrors
        errors = job.documentErrors == 1 ? "1 error" : "\(job.documentErrors) errors"
        failure = job.error

        let rate: Double?
        if Self.isFinished(job.state) {
            rate = Self.average(job.documentsDone, from: job.startedMs, to: job.finishedMs)
        } else {
            // An average over less than a second says little; better no figure than a wild one.
            let sinceStart = job.startedMs.map { $0 + 1000 <= nowMs } == true
                ? Self.average(job.documentsDone, from: job.startedMs, to: nowMs) : nil
            rate = job.documentsPerSecond ?? observedRate ?? sinceStart
        }
        self.rate = Format.rate(rate)
        let remaining = Double(job.documentsTotal - done)
        var eta: Double?
        if job.state == "running" {
            eta = job.etaSeconds ?? rate.flatMap { $0 > 0 ? remaining / $0 : nil }
        }
        self.eta = Format.duration(eta)
    }

    /// `j000001  embed  running  [████····] 51%  512/1000 docs  120.5 docs/s  ETA 4s  0 errors`;
    /// the bar only when `barWidth` is given (terminals), the line cut to `width` when given.
    public func line(barWidth: Int? = nil, width: Int? = nil) -> String {
        let progress = barWidth.map { Format.bar(fraction, width: $0) + " " } ?? ""
        var text = "\(id)  \(name)  \(state)  \(progress)\(Format.percent(fraction))  \(docs)  \(rate)  ETA \(eta)  \(errors)"
        if let failure { text += "  — \(failure)" }
        return width.map { Format.fit(text, width: $0) } ?? text
    }

    /// Completed, failed and cancelled jobs make no more progress.
    public static func isFinished(_ state: String) -> Bool { ["completed", "failed", "cancelled"].contains(state) }

    /// Documents per second between two wall-clock times; nil when the span is unknown or empty.
    static func average(_ docs: UInt64, from startMs: UInt64?, to endMs: UInt64?) -> Double? {
        guard let startMs, let endMs, endMs > startMs else { return nil }
        return Double(docs) / (Double(endMs - startMs) / 1000)
    }
}
