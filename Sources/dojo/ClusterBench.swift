import ArgumentParser
import Coordinator
import DomainTasks
import Foundation
import Wire

struct ClusterBench: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Docs/s through a real coordinator: an embed job on 1 and 2 workers, and a no-op job.")

    @Option(help: "Documents in the embed job (MiniLM, sentences from the reference file); 0 skips it.") var embedDocs = 2_048
    @Option(help: "Documents in the no-op job.") var noopDocs = 500_000
    @Option(help: "Workers for the no-op job.") var noopWorkers = 2
    @Option(help: "Documents per shard in the no-op job.") var noopShardSize = 256
    @Option(help: "Sentences file for the embed job.") var input: String?

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let work = URL(fileURLWithPath: "/tmp/dojo-bench-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let sentences = try input.map { try String(contentsOfFile: $0, encoding: .utf8) }
            ?? String(contentsOfFile: "../shared/reference/minilm/sentences.jsonl", encoding: .utf8)
        let texts = sentences.split(separator: "\n").compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["text"] as? String
        }
        guard !texts.isEmpty else { throw CLIError("no sentences to embed") }
        let embedInput = work.appendingPathComponent("embed.jsonl")
        try (0..<embedDocs).map { #"{"id":\#($0),"text":\#(JSONText.quote(texts[$0 % texts.count]))}"# }
            .joined(separator: "\n").write(to: embedInput, atomically: true, encoding: .utf8)
        let embedSpec = DomainTasks.JobSpec(task: "embed", model: "minilm", params: ["batch": .number(32)], shardSize: 64)

        print("cluster benchmark: coordinator + workers on this machine (\(ProcessInfo.processInfo.activeProcessorCount) cores)")
        if embedDocs > 0 { try embedScaling(spec: embedSpec, input: embedInput, in: work) }
        let noopInput = work.appendingPathComponent("noop.jsonl")
        try writeNoopInput(noopInput, count: noopDocs)
        var cpu = CPUSplit()
        let noop = try measure(spec: DomainTasks.JobSpec(task: "noop", shardSize: noopShardSize), input: noopInput,
                               workers: noopWorkers, threads: 1, in: work.appendingPathComponent("n"), cpu: &cpu)
        print(String(format: "  no-op, shards of %d, %d workers: %8.0f docs/s", noopShardSize, noopWorkers, noop))
        let shards = Double((noopDocs + noopShardSize - 1) / noopShardSize)
        print(String(format: "    CPU: coordinator %.0f ms per 1,000 shards, workers %.2f µs per document",
                     cpu.coordinator * 1000 / shards * 1000, cpu.workers * 1e6 / Double(noopDocs)))
    }

    /// CPU seconds the coordinator and the workers spent on the timed job.
    struct CPUSplit { var coordinator = 0.0; var workers = 0.0 }

    /// User + system CPU seconds of a live process, from /proc/PID/stat.
    func cpuSeconds(_ pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The same embed job on 1 worker and on 2 workers (1 thread each).
    func embedScaling(spec embedSpec: DomainTasks.JobSpec, input embedInput: URL, in work: URL) throws {
        let one = try measure(spec: embedSpec, input: embedInput, workers: 1, threads: 1, in: work.appendingPathComponent("e1"))
        print(String(format: "  embed, 1 worker × 1 thread:   %8.1f docs/s", one))
        let two = try measure(spec: embedSpec, input: embedInput, workers: 2, threads: 1, in: work.appendingPathComponent("e2"))
        print(String(format: "  embed, 2 workers × 1 thread:  %8.1f docs/s   (×%.2f)", two, two / one))
    }

    func writeNoopInput(_ url: URL, count: Int) throws {
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        var chunk = Data()
        for i in 0..<count {
            chunk.append(contentsOf: #"{"id":\#(i),"text":"document \#(i)"}"#.utf8); chunk.append(0x0A)
            if chunk.count > 1 << 20 { handle.write(chunk); chunk.removeAll(keepingCapacity: true) }
        }
        handle.write(chunk)
        try handle.close()
    }

    /// Starts a coordinator and workers, submits, and times submit-end to completion.
    func measure(spec: DomainTasks.JobSpec, input: URL, workers: Int, threads: Int, in directory: URL) throws -> Double {
        var ignored = CPUSplit()
        return try measure(spec: spec, input: input, workers: workers, threads: threads, in: directory, cpu: &ignored)
    }

    func measure(spec: DomainTasks.JobSpec, input: URL, workers: Int, threads: Int, in directory: URL,
                 cpu: inout CPUSplit) throws -> Double {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let endpoint = "ipc://\(directory.path)/c.sock"
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        var processes: [Process] = []
        defer { for p in processes { p.terminate(); p.waitUntilExit() } }
        func launch(_ args: [String]) throws {
            let p = Process()
            p.executableURL = binary
            p.arguments = args
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            processes.append(p)
        }
        try launch(["coordinator", "--listen", endpoint, "--data", directory.appendingPathComponent("data").path])
        for w in 0..<workers { try launch(["worker", "--connect", endpoint, "--threads", "\(threads)", "--name", "bench-\(w)"]) }
        usleep(500_000)
        let context = try ZMQContext()
        let socket = try context.socket(.dealer)
        try socket.set([.linger(ms: 0), .maxMessageSize(bytes: 1 << 31)])
        try socket.connect(endpoint)
        let client = CoordinatorClient(transport: socket, timeoutMs: 60_000)
        // Warm the workers (model load) with a tiny job first.
        let warm = directory.appendingPathComponent("warm.jsonl")
        try (0..<(workers * 4)).map { #"{"id":\#($0),"text":"warm up"}"# }.joined(separator: "\n").write(to: warm, atomically: true, encoding: .utf8)
        var warmSpec = spec
        warmSpec.shardSize = 1
        let w = try client.submit(spec: warmSpec.jsonData(), name: "warm", input: warm)
        try waitDone(client, w.jobId)

        func split() -> CPUSplit {
            CPUSplit(coordinator: cpuSeconds(processes[0].processIdentifier),
                     workers: processes.dropFirst().reduce(0) { $0 + cpuSeconds($1.processIdentifier) })
        }
        let submitted = try client.submit(spec: spec.jsonData(), name: "bench", input: input)
        let before = split()
        let start = Date()
        try waitDone(client, submitted.jobId)
        let seconds = Date().timeIntervalSince(start)
        let after = split()
        cpu = CPUSplit(coordinator: after.coordinator - before.coordinator, workers: after.workers - before.workers)
        socket.close()
        return Double(submitted.documentCount) / seconds
    }

    func waitDone(_ client: CoordinatorClient, _ job: String) throws {
        while true {
            guard let s = try client.status(jobId: job).first else { throw CLIError("job \(job) vanished") }
            if s.state == "completed" { return }
            if s.state == "failed" || s.state == "cancelled" { throw CLIError("job \(job) \(s.state): \(s.error ?? "")") }
            usleep(20_000)
        }
    }
}
