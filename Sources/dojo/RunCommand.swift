import ArgumentParser
import DomainTasks
import Foundation
import Kernels

struct RunCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a job spec in this process, no coordinator (for small jobs).")

    @Argument(help: "Job spec (YAML).") var spec: String
    @Option(help: "Input JSONL (default: stdin).") var input: String?
    @Option(name: [.short, .customLong("output")], help: "Output JSONL (default: stdout).") var output: String?
    @Option(help: "Threads (default: all cores).") var threads: Int?

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let job = try JobSpec.load(URL(fileURLWithPath: spec))
        try TaskCatalog.validate(job, source: spec)
        let models = CachingModelProvider(pool: ThreadPool(threads: threads ?? ThreadPool.defaultThreadCount))
        let task = try TaskCatalog.make(job, models: models)
        let reader = try LineReader(handle: openInput(input))
        let out = try BufferedOutput(path: output)
        let progress = Progress(label: "processed", unit: "docs")
        var done = 0, errors = 0
        while true {
            var entries: [Result<Document, DocumentError>] = []
            while entries.count < job.shardSize, let line = reader.next() {
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                entries.append(DocumentParser.parse(line, lineNumber: reader.lineNumber))
            }
            if entries.isEmpty { break }
            for record in task.records(for: entries) {
                if record.isError { errors += 1 }
                out.write(record.json + "\n")
            }
            done += entries.count
            progress.update(done)
        }
        out.flush()
        progress.finish(done)
        if errors > 0 { FileHandle.standardError.write("\(errors) of \(done) documents gave error records\n".data(using: .utf8)!) }
    }
}
