import ArgumentParser
import Coordinator
import DomainTasks
import Foundation
import Wire

struct SubmitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Validate a job spec, stream its input to the coordinator, print the job id.")

    @Argument(help: "Job spec (YAML).") var spec: String
    @Option(help: "Input JSONL (default: stdin).") var input: String?
    @Option(help: "Job name (default: the spec's, else the spec file's name).") var name: String?
    @Flag(help: "Follow the job until it finishes, with progress.") var wait = false
    @OptionGroup var connection: CoordinatorConnection

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

/// Shows a job's progress until it finishes; exit status 1 when it failed or was cancelled.
func follow(_ client: CoordinatorClient, jobId: String) throws {
    let view = JobProgressView(terminal: isatty(2) == 1)
    var lastPlain = Date.distantPast
    while true {
        guard let job = try client.status(jobId: jobId).first else { throw CLIError("job \(jobId) is unknown to the coordinator") }
        let line = view.line(job)
        let finished = JobProgressView.isFinished(job.state)
        if view.terminal {
            FileHandle.standardError.write("\r\u{1B}[K\(line)\(finished ? "\n" : "")".data(using: .utf8)!)
        } else if finished || Date().timeIntervalSince(lastPlain) >= 5 {
            FileHandle.standardError.write("\(line)\n".data(using: .utf8)!)
            lastPlain = Date()
        }
        if finished {
            if job.state != "completed" { throw ExitCode(1) }
            return
        }
        Thread.sleep(forTimeInterval: 1)
    }
}
