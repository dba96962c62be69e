import ArgumentParser
import Console
import Coordinator
import Foundation

struct StatusCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show jobs and their progress.")

    @Argument(help: "A job id (default: every job).") var job: String?
    @Flag(help: "JSON, as the coordinator reports it.") var json = false
    @OptionGroup var connection: CoordinatorConnection

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let (client, _, _) = try connection.client()
        let jobs = try client.status(jobId: job)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(jobs), as: UTF8.self))
            return
        }
        if let job, jobs.isEmpty { throw CLIError("job \(job) is unknown to the coordinator") }
        if jobs.isEmpty { print("no jobs"); return }
        // One look has no rate of its own: running jobs show the coordinator's, else their average so far.
        let nowMs = UInt64(Date().timeIntervalSince1970 * 1000)
        let size = terminalSize(1)
        let view = TopView(terminal: isatty(1) == 1, width: size?.columns)
        for line in view.jobTable(jobs.map { JobRow($0, observedRate: nil, nowMs: nowMs) }) { print(line) }
    }
}

struct ResultsCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "results",
        abstract: "A job's output in input order, decompressed (or the LZ4 frames with --raw).")

    @Argument(help: "Job id.") var job: String
    @Option(name: [.short, .customLong("output")], help: "Output file (default: stdout).") var output: String?
    @Flag(help: "The stored LZ4 frames, concatenated (lz4 -dc reads them).") var raw = false
    @OptionGroup var connection: CoordinatorConnection

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let (client, _, _) = try connection.client()
        let out = try BufferedOutput(path: output)
        let summary = try client.results(jobId: job, raw: raw) { data in
            out.write(data)
        }
        out.flush()
        if summary.pending > 0 {
            FileHandle.standardError.write("\(summary.pending) of \(summary.shards) shards are not finished yet; the output is partial\n".data(using: .utf8)!)
            throw ExitCode(3)
        }
    }
}

struct CancelCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(commandName: "cancel", abstract: "Cancel a job.")

    @Argument(help: "Job id.") var job: String
    @OptionGroup var connection: CoordinatorConnection

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let (client, _, _) = try connection.client()
        let wasActive = try client.cancel(jobId: job)
        print(wasActive ? "cancelled \(job)" : "\(job) had already finished")
    }
}

struct WorkersCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: "Workers connected to the coordinator.")

    @Flag(help: "JSON, as the coordinator reports it.") var json = false
    @OptionGroup var connection: CoordinatorConnection

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let (client, _, _) = try connection.client()
        let workers = try client.workers()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if json { print(String(decoding: try encoder.encode(workers), as: UTF8.self)); return }
        if workers.isEmpty { print("no workers connected"); return }
        for w in workers {
            let state = w.connected ? "connected" : "gone"
            print("\(w.name)  \(state)  \(w.threads) threads  leases \(w.leases)  shards done \(w.shardsDone)  "
                + String(format: "%.1f docs/s  %.0f tokens/s", w.documentsPerSecond, w.tokensPerSecond)
                + "  models \(w.models.joined(separator: ","))  cpu \(w.cpuFeatures.joined(separator: ","))")
        }
    }
}
