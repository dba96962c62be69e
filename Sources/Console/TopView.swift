import Coordinator
import Foundation

/// Lays out jobs and workers as the frames of `dojo top` and the table of `dojo status`. On a
/// terminal (`terminal`) jobs get bars sized to `width` and the frame is cut to `width` × `height`;
/// otherwise the text is plain, uncut, with no bars.
public struct TopView: Sendable {
    public var terminal: Bool
    /// Terminal columns and rows, when known.
    public var width: Int?
    public var height: Int?

    /// Widest bar drawn, and narrowest worth drawing.
    static let maxBar = 30, minBar = 5
    /// Bar width when the terminal's width is unknown.
    static let defaultBar = 20

    public init(terminal: Bool, width: Int? = nil, height: Int? = nil) {
        self.terminal = terminal; self.width = width; self.height = height
    }

    // MARK: - Jobs

    /// The jobs table: header, one line per job, then a line per failed job saying why.
    public func jobTable(_ rows: [JobRow]) -> [String] {
        let header = ["JOB", "NAME", "STATE", "PROGRESS", "DOCS", "RATE", "ETA", "ERRORS"]
        func cells(_ r: JobRow, bar: Int?) -> [String] {
            // Percentages padded to "100%" so the bars line up.
            let percent = Format.percent(r.fraction)
            let progress = bar.map { Format.bar(r.fraction, width: $0) + String(repeating: " ", count: 5 - percent.count) } ?? ""
            return [r.id, Format.fit(r.name, width: 24), r.state, progress + percent, r.docs, r.rate,
                    r.eta, "\(r.errorCount)"]
        }
        var bar: Int?
        if terminal {
            bar = Self.defaultBar
            if let width {
                // The bar takes what the other columns leave (its brackets and the percentage's padding included).
                let plain = Table(header: header, rows: rows.map { cells($0, bar: nil) }).widths
                let others = plain.reduce(0, +) - plain[3] + 2 * (header.count - 1)
                let room = width - others - "[] 100%".count
                bar = room >= Self.minBar ? min(room, Self.maxBar) : nil
            }
        }
        let table = Table(header: header, rows: rows.map { cells($0, bar: bar) }, rightAligned: [3, 4, 5, 6, 7])
        let failures = rows.compactMap { r in r.failure.map { "\(r.id) \(r.state): \($0)" } }
        return table.lines() + failures
    }

    /// The jobs `dojo top` shows: every unfinished job and the `recentFinished` that finished last,
    /// in submission order; and how many finished jobs were left out.
    public static func select(_ jobs: [JobStatus], recentFinished: Int = 5) -> (shown: [JobStatus], hidden: Int) {
        let finished = jobs.filter { JobRow.isFinished($0.state) }
            .sorted { ($0.finishedMs ?? 0, $0.id) > ($1.finishedMs ?? 0, $1.id) }
        let kept = Set(finished.prefix(recentFinished).map(\.id))
        let shown = jobs.filter { !JobRow.isFinished($0.state) || kept.contains($0.id) }.sorted { $0.id < $1.id }
        return (shown, jobs.count - shown.count)
    }

    // MARK: - Workers

    /// The workers table: connected workers first, then lost ones, each by name.
    public func workerTable(_ workers: [WorkerStatus]) -> [String] {
        let header = ["WORKER", "STATE", "ACTIVITY", "SHARDS", "RATE", "HEARTBEAT", "DONE"]
        let sorted = workers.sorted { ($0.connected ? 0 : 1, $0.name, $0.identity) < ($1.connected ? 0 : 1, $1.name, $1.identity) }
        let rows: [[String]] = sorted.map { w in
            guard w.connected else {
                return [w.name, "lost", Format.unknown, Format.unknown, Format.unknown, Format.unknown, "\(w.shardsDone)"]
            }
            let shards = w.currentShards.isEmpty ? Format.unknown
                : w.currentShards.prefix(3).joined(separator: ",") + (w.currentShards.count > 3 ? " +\(w.currentShards.count - 3)" : "")
            return [w.name, "connected", w.currentShards.isEmpty ? "idle" : "busy", shards, Format.rate(w.documentsPerSecond),
                    Format.age(milliseconds: w.heartbeatAgeMs), "\(w.shardsDone)"]
        }
        return Table(header: header, rows: rows, rightAligned: [4, 5, 6]).lines()
    }

    /// Every connected worker and the `recentLost` seen last of those that are gone; and how many were left out.
    public static func select(_ workers: [WorkerStatus], recentLost: Int = 5) -> (shown: [WorkerStatus], hidden: Int) {
        let lost = workers.filter { !$0.connected }.sorted { $0.lastSeenMs > $1.lastSeenMs }
        let kept = Set(lost.prefix(recentLost).map(\.identity))
        let shown = workers.filter { $0.connected || kept.contains($0.identity) }
        return (shown, workers.count - shown.count)
    }

    // MARK: - Frames

    /// One frame of `dojo top`: `title`, a summary line, the jobs, the workers. No blank lines
    /// inside, so plain frames are told apart by the blank line between them.
    /// `allJobs` and `allWorkers` are counted in the summary; `rows` and `workers` are shown.
    public func frame(title: String, allJobs: [JobStatus], rows: [JobRow], allWorkers: [WorkerStatus],
                      workers: [WorkerStatus]) -> [String] {
        var lines = [title, Self.summary(jobs: allJobs, workers: allWorkers)]
        lines += rows.isEmpty ? ["no jobs"] : jobTable(rows)
        let hiddenJobs = allJobs.count - rows.count
        if hiddenJobs > 0 { lines.append("(\(hiddenJobs) older finished \(hiddenJobs == 1 ? "job" : "jobs") not shown)") }
        lines += workers.isEmpty ? ["no workers"] : workerTable(workers)
        let hiddenWorkers = allWorkers.count - workers.count
        if hiddenWorkers > 0 { lines.append("(\(hiddenWorkers) lost \(hiddenWorkers == 1 ? "worker" : "workers") not shown)") }
        return fitted(lines)
    }

    /// `jobs: 1 running, 2 queued, 3 finished · workers: 2 connected (1 busy), 1 lost`
    public static func summary(jobs: [JobStatus], workers: [WorkerStatus]) -> String {
        let running = jobs.filter { $0.state == "running" }.count
        let queued = jobs.filter { $0.state == "queued" }.count
        let finished = jobs.filter { JobRow.isFinished($0.state) }.count
        let connected = workers.filter(\.connected)
        let busy = connected.filter { !$0.currentShards.isEmpty }.count
        return "jobs: \(running) running, \(queued) queued, \(finished) finished · "
            + "workers: \(connected.count) connected (\(busy) busy), \(workers.count - connected.count) lost"
    }

    /// Cuts lines to the terminal's width and the frame to its height (keeping a line to say so).
    public func fitted(_ lines: [String]) -> [String] {
        guard terminal else { return lines }
        var out = lines
        if let height, height > 1, out.count > height {
            let cut = out.count - (height - 1)
            out = Array(out.prefix(height - 1)) + ["(\(cut) more lines; enlarge the terminal or use --job)"]
        }
        if let width { out = out.map { Format.fit($0, width: width) } }
        return out
    }
}
