import Coordinator
import Foundation

/// One rendering of job progress for `dojo submit --wait` and `dojo status`: a bar with docs/s and
/// ETA on a terminal, plain lines otherwise. Rates come from successive observations of the store's counts.
final class JobProgressView {
    private var last: [String: (docs: UInt64, at: Date)] = [:]
    private var rates: [String: Double] = [:]
    let terminal: Bool

    init(terminal: Bool = isatty(1) == 1) { self.terminal = terminal }

    /// Updates the rate from a new observation and returns the job's line.
    func line(_ job: JobStatus, now: Date = Date()) -> String {
        if let previous = last[job.id], now.timeIntervalSince(previous.at) > 0.2 {
            let instant = Double(job.documentsDone &- previous.docs) / now.timeIntervalSince(previous.at)
            rates[job.id] = rates[job.id].map { 0.7 * $0 + 0.3 * instant } ?? instant
            last[job.id] = (job.documentsDone, now)
        } else if last[job.id] == nil {
            last[job.id] = (job.documentsDone, now)
        }
        let total = max(job.documentsTotal, 1)
        let fraction = min(Double(job.documentsDone) / Double(total), 1)
        let rate = rates[job.id] ?? 0
        let remaining = Double(job.documentsTotal - min(job.documentsDone, job.documentsTotal))
        let eta = job.state == "running" && rate > 0 ? Self.duration(remaining / rate) : "—"
        let width = 24
        let filled = Int(fraction * Double(width))
        let bar = terminal ? "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled) + "] "
                           : ""
        let errors = job.documentErrors > 0 ? ", \(job.documentErrors) errors" : ""
        return "\(job.id) \(job.name.isEmpty ? job.task : job.name) \(job.state) \(bar)"
            + "\(job.documentsDone)/\(job.documentsTotal) docs (\(String(format: "%.0f", fraction * 100))%)\(errors), "
            + "\(String(format: "%.1f", rate)) docs/s, ETA \(eta)"
            + (job.error.map { " — \($0)" } ?? "")
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "—" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
    }

    static func isFinished(_ state: String) -> Bool { ["completed", "failed", "cancelled"].contains(state) }
}
