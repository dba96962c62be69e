import ArgumentParser
import Console
import Coordinator
import Foundation

struct TopCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "A live view of jobs and workers: progress, docs/s, ETA, errors; worker state, shards, rate, heartbeat age.",
        discussion: "On a terminal the view is redrawn in place until Ctrl-C; otherwise plain text frames are printed, separated by a blank line.")

    @Option(help: "Seconds between refreshes.") var interval: Double = 1
    @Option(help: "Stop after this many frames (default: run until Ctrl-C).") var iterations: Int?
    @Option(help: "Show only this job.") var job: String?
    @OptionGroup var connection: CoordinatorConnection
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard interval >= 0.1, interval.isFinite else { throw ValidationError("--interval must be at least 0.1 seconds") }
        if let iterations, iterations < 1 { throw ValidationError("--iterations must be at least 1") }
    }

    func run() throws {
        let screen = TerminalScreen(fd: 1)
        let stop = StopSignal()
        var connected = try connection.client()
        screen?.enter()
        defer { screen?.leave() }
        var tracker = RateTracker()
        var frames = 0
        while !stop.isSet {
            var lines: [String]
            do {
                lines = try frame(connected.0, tracker: &tracker, screen: screen)
            } catch let error as CLIError {
                throw error
            } catch {
                // The first frame fails loudly (wrong address, refused key); later ones say so and
                // try again on a fresh connection, so a coordinator restart does not end the view.
                guard frames > 0 else { throw error }
                lines = ["dojo top · \(connection.endpoint) · \(Self.clock())", "cannot reach the coordinator: \(error)"]
                if let fresh = try? connection.client() { connected = fresh }
            }
            if let screen {
                screen.draw(lines)
            } else {
                FileHandle.standardOutput.write(Data(((frames > 0 ? "\n" : "") + lines.joined(separator: "\n") + "\n").utf8))
            }
            frames += 1
            if let iterations, frames >= iterations { break }
            let until = Date().addingTimeInterval(interval)
            while !stop.isSet && Date() < until { usleep(50_000) }
        }
    }

    /// One frame's lines from the coordinator's status and workers documents.
    private func frame(_ client: CoordinatorClient, tracker: inout RateTracker, screen: TerminalScreen?) throws -> [String] {
        let allJobs = try client.status(jobId: job)
        if let job, allJobs.isEmpty { throw CLIError("job \(job) is unknown to the coordinator") }
        let allWorkers = try client.workers()
        let now = ProcessInfo.processInfo.systemUptime
        let nowMs = UInt64(Date().timeIntervalSince1970 * 1000)
        let jobs = TopView.select(allJobs).shown
        let rows = jobs.map { j in JobRow(j, observedRate: tracker.observe(j.id, docs: j.documentsDone, at: now), nowMs: nowMs) }
        tracker.keep(only: Set(jobs.map(\.id)))
        let size = screen?.size
        let view = TopView(terminal: screen != nil, width: size?.columns, height: size?.rows)
        return view.frame(title: "dojo top · \(connection.endpoint) · \(Self.clock())", allJobs: allJobs, rows: rows,
                          allWorkers: allWorkers, workers: TopView.select(allWorkers).shown)
    }

    /// The time of a frame, to the second, UTC.
    static func clock() -> String {
        let ts = DojoLogHandler.timestamp(ms: Int64(Date().timeIntervalSince1970 * 1000))
        return String(ts.prefix(19)) + "Z"
    }
}

/// A terminal on `fd` redrawn in place: cleared once, each frame drawn from the top-left corner
/// over the last, the cursor hidden while the view runs and shown again when it ends.
final class TerminalScreen {
    let fd: Int32

    /// nil when `fd` is not a terminal.
    init?(fd: Int32) {
        guard isatty(fd) == 1 else { return nil }
        self.fd = fd
    }

    /// Columns and rows, when the terminal says.
    var size: (columns: Int, rows: Int)? { terminalSize(fd) }

    func enter() { put("\u{1B}[?25l\u{1B}[2J\u{1B}[H") }

    /// Each line clears the rest of its row and the frame clears what the last one left below it.
    func draw(_ lines: [String]) {
        put("\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\u{1B}[J")
    }

    func leave() { put("\n\u{1B}[?25h") }

    private func put(_ s: String) {
        Array(s.utf8).withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// The size of the terminal on `fd`; nil when it is not a terminal or does not say.
func terminalSize(_ fd: Int32) -> (columns: Int, rows: Int)? {
    var ws = winsize()
    guard isatty(fd) == 1, ioctl(fd, UInt(TIOCGWINSZ), &ws) == 0, ws.ws_col > 0 else { return nil }
    return (Int(ws.ws_col), Int(ws.ws_row))
}
