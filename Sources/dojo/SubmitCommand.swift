import ArgumentParser
import Console
import Coordinator
import DomainTasks
import Foundation
import Wire

struct SubmitCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Validate a job spec, stream its input to the coordinator, print the job id.")

    @Argument(help: "Job spec (YAML).") var spec: String
    @Option(help: "Input JSONL (default: stdin).") var input: String?
    @Option(help: "Job name (default: the spec's, else the spec file's name).") var name: String?
    @Flag(help: "Follow the job until it finishes, with progress.") var wait = false
    @OptionGroup var connection: CoordinatorConnection

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        // Validate first: a bad spec queues nothing.
        let job = try DomainTasks.JobSpec.load(URL(fileURLWithPath: spec))
        try TaskCatalog.validate(job, source: spec)
        let jobName = name ?? job.name ?? URL(fileURLWithPath: spec).deletingPathExtension().lastPathComponent
        let (client, _, _) = try connection.client()
        let progress = Progress(label: "uploaded", unit: "bytes")
        let submitted: Submitted
        if let input {
            guard FileManager.default.isReadableFile(atPath: input) else { throw CLIError("\(input): cannot read the input file") }
            submitted = try client.submit(spec: job.jsonData(), name: jobName, input: URL(fileURLWithPath: input),
                                          progress: { progress.update(Int($0)) })
        } else {
            let stdin = FileHandle.standardInput
            submitted = try client.submit(spec: job.jsonData(), name: jobName, nextChunk: { max in
                let d = stdin.readData(ofLength: max)
                return d.isEmpty ? nil : d
            }, progress: { progress.update(Int($0)) })
        }
        print(submitted.jobId)
        FileHandle.standardError.write("job \(submitted.jobId): \(submitted.documentCount) documents in \(submitted.shardCount) shards\n".data(using: .utf8)!)
        if wait { try follow(client, jobId: submitted.jobId) }
    }
}

/// Shows a job's progress on stderr until it finishes: one line redrawn in place on a terminal, a
/// plain line every five seconds otherwise. Exit status 1 when it failed or was cancelled.
func follow(_ client: CoordinatorClient, jobId: String) throws {
    let terminal = isatty(2) == 1
    var tracker = RateTracker()
    var lastPlain = Date.distantPast
    while true {
        guard let job = try client.status(jobId: jobId).first else { throw CLIError("job \(jobId) is unknown to the coordinator") }
        let row = JobRow(job, observedRate: tracker.observe(jobId, docs: job.documentsDone, at: ProcessInfo.processInfo.systemUptime),
                         nowMs: UInt64(Date().timeIntervalSince1970 * 1000))
        let finished = JobRow.isFinished(job.state)
        if terminal {
            let width = terminalSize(2)?.columns
            let line = row.line(barWidth: 24, width: width.map { $0 - 1 })
            FileHandle.standardError.write("\r\u{1B}[K\(line)\(finished ? "\n" : "")".data(using: .utf8)!)
        } else if finished || Date().timeIntervalSince(lastPlain) >= 5 {
            FileHandle.standardError.write("\(row.line())\n".data(using: .utf8)!)
            lastPlain = Date()
        }
        if finished {
            if job.state != "completed" { throw ExitCode(1) }
            return
        }
        Thread.sleep(forTimeInterval: 1)
    }
}
