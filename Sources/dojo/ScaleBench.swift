// `dojo bench scale`: the coordinator at fleet scale on one machine. The real Broker, Scheduler
// and JobStore (SQLite, fsynced output files) run against simulated workers through the in-memory
// transport and a simulated clock, so a fleet of 100 costs no processes and lost workers can be
// timed to the millisecond; the memory figure comes from a real `dojo coordinator` process.
import ArgumentParser
import Coordinator
import Foundation
import Logging
import Wire

struct ScaleBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Coordinator CPU per 1,000 shards, memory with 1,000,000 documents queued, and requeue time after losing workers.")

    @Option(help: "Simulated workers (in-memory transport, simulated clock).") var workers = 100
    @Option(help: "Workers lost at once in the requeue measurement.") var lost = 10
    @Option(help: "Shards pushed through the simulated fleet for the CPU figure.") var shards = 4_000
    @Option(help: "Documents per shard.") var shardSize = 256
    @Option(help: "Documents queued in a real coordinator process for the memory figure.") var queuedDocs = 1_000_000

    func run() throws {
        guard workers >= 1, lost >= 1, lost < workers, shards >= 1, shardSize >= 1, queuedDocs >= 1 else {
            throw CLIError("--workers must be above --lost (≥ 1), and --shards, --shard-size, --queued-docs at least 1")
        }
        let work = URL(fileURLWithPath: "/tmp/dojo-scale-\(getpid())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let policy = Policy()
        print("scale benchmark: real broker, scheduler and store; \(workers) simulated workers over the in-memory transport, "
              + "simulated clock (\(ProcessInfo.processInfo.activeProcessorCount) cores)")

        let cpu = try measureCPU(in: work.appendingPathComponent("cpu"))
        print(String(format: "  coordinator CPU per 1,000 shards: %7.0f ms   (%d shards of %d docs; %.0f shards/s, %.0f docs/s wall)   target: none set",
                     cpu.cpuMsPerThousand, cpu.shards, shardSize, cpu.shardsPerSecond, cpu.shardsPerSecond * Double(shardSize)))

        let requeue = try measureRequeue(in: work.appendingPathComponent("requeue"), policy: policy)
        print(String(format: "  requeue %d lost workers' %d shards:   %7.2f heartbeat intervals (%llu ms after their last message)   target ≤ %llu",
                     lost, requeue.shards, Double(requeue.ms) / Double(policy.heartbeatIntervalMs), requeue.ms,
                     policy.heartbeatLiveness))

        let memory = try measureMemory(in: work.appendingPathComponent("memory"))
        print(String(format: "  coordinator RSS, %d docs queued:  %7.1f MB   (peak %.1f MB; idle %.1f MB, %d docs queued %.1f MB)   target < 200 MB",
                     queuedDocs, memory.queuedMB, memory.peakMB, memory.idleMB, memory.smallDocs, memory.smallMB))
    }

    // MARK: - CPU per 1,000 shards

    struct CPUFigure { var shards: Int; var cpuMsPerThousand: Double; var shardsPerSecond: Double }

    /// Every simulated worker holds two credits and answers each assignment at once with its
    /// documents echoed back (a no-op result); only the coordinator's polls are timed.
    func measureCPU(in directory: URL) throws -> CPUFigure {
        let fleet = try SimulatedFleet(directory: directory, workers: workers, policy: Policy())
        let submitted = try fleet.submit(documents: shards * shardSize, shardSize: shardSize)
        try fleet.joinAll(credits: 2)
        var cpuSeconds = 0.0
        let start = Date()
        var round = 0
        while true {
            cpuSeconds += fleet.timedPoll()
            for dealer in fleet.dealers {
                for message in try fleet.drain(dealer) {
                    guard case .assign(let a) = message else { continue }
                    let raw = try LZ4Frame.decompress(a.documents, maxOutputBytes: 1 << 30)
                    try dealer.send(.result(ShardResult(jobId: a.jobId, shardId: a.shardId, attemptId: a.attemptId,
                                                        documentCount: a.documentCount, errorCount: 0, tokenCount: 0,
                                                        rawBytes: UInt64(raw.count), frame: a.documents)))
                    try dealer.send(.ready(credits: 1))
                }
            }
            fleet.clock.advance(byMs: 1)
            round += 1
            if round % 1_000 == 0 { try fleet.heartbeatAll() }
            if round % 50 == 0, try fleet.broker.store.job(submitted.jobId)?.state == .completed { break }
        }
        let seconds = Date().timeIntervalSince(start)
        let done = Int(submitted.shardCount)
        return CPUFigure(shards: done, cpuMsPerThousand: cpuSeconds * 1000 / Double(done) * 1000,
                         shardsPerSecond: Double(done) / seconds)
    }

    // MARK: - Requeue after losing workers

    /// Every worker holds two leases it never finishes and beats once an interval; then `lost` of
    /// them go silent at once, off the broker's tick phase. The figure is the simulated time from
    /// their last message until every attempt they held has ended and its shard is queued again.
    func measureRequeue(in directory: URL, policy: Policy) throws -> (ms: UInt64, shards: Int) {
        let fleet = try SimulatedFleet(directory: directory, workers: workers, policy: policy)
        let submitted = try fleet.submit(documents: workers * 4 * 8, shardSize: 8)
        try fleet.joinAll(credits: 2)
        var held: [Int: [UInt64]] = [:]
        func collect() throws {
            for (i, dealer) in fleet.dealers.enumerated() {
                for case .assign(let a) in try fleet.drain(dealer) { held[i, default: []].append(a.attemptId) }
            }
        }
        try collect()
        let lostIndices = Array(0..<lost)
        let silentAt = fleet.clock.nowMs + 2 * policy.heartbeatIntervalMs + 370
        var lastHeard: UInt64 = 0
        var nextBeat = fleet.clock.nowMs + policy.heartbeatIntervalMs
        while fleet.clock.nowMs < silentAt + 10 * policy.heartbeatIntervalMs {
            let now = fleet.clock.nowMs
            if now >= nextBeat || now == silentAt {
                let silent = now > silentAt ? Set(lostIndices) : []
                for (i, dealer) in fleet.dealers.enumerated() where !silent.contains(i) {
                    try dealer.send(.workerHeartbeat(WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0,
                                                                 activeAttemptIds: held[i] ?? [])))
                }
                if now >= nextBeat { nextBeat += policy.heartbeatIntervalMs }
                if now == silentAt { lastHeard = now }
            }
            fleet.broker.poll(timeoutMs: 0)
            try collect()
            if lastHeard > 0 {
                let attempts = lostIndices.flatMap { held[$0] ?? [] }
                let ended = try attempts.allSatisfy { try fleet.broker.store.attempt($0)?.state != .running }
                if ended {
                    let shards = try attempts.map { try fleet.broker.store.attempt($0)! }
                    for a in shards {
                        guard let s = try fleet.broker.store.shard(jobId: submitted.jobId, index: a.shardIndex),
                              s.state == .queued || (s.state == .leased && s.currentAttemptId != a.id) else {
                            throw CLIError("shard \(a.shardIndex) of a lost worker was not requeued")
                        }
                    }
                    return (fleet.clock.nowMs - lastHeard, attempts.count)
                }
            }
            fleet.clock.advance(byMs: 1)
        }
        throw CLIError("the lost workers' shards were not requeued within 10 heartbeat intervals")
    }

    // MARK: - Memory with documents queued

    struct MemoryFigure { var idleMB: Double; var smallDocs: Int; var smallMB: Double; var queuedMB: Double; var peakMB: Double }

    /// A real coordinator process with no workers: its resident memory idle, with a small job
    /// queued, and with `queuedDocs` documents queued (the job streamed in through a client).
    func measureMemory(in directory: URL) throws -> MemoryFigure {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let endpoint = "ipc://\(directory.path)/c.sock"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        process.arguments = ["coordinator", "--listen", endpoint, "--data", directory.appendingPathComponent("data").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate(); process.waitUntilExit() }
        let context = try ZMQContext()
        let socket = try context.socket(.dealer)
        defer { socket.close() }
        try socket.set([.linger(ms: 0), .maxMessageSize(bytes: 1 << 31)])
        try socket.connect(endpoint)
        let client = CoordinatorClient(transport: socket, timeoutMs: 120_000)
        _ = try client.status()
        let idle = try residentMB(process.processIdentifier).current
        let spec = Data(#"{"task":"noop","shard_size":\#(shardSize)}"#.utf8)

        let smallDocs = min(10_000, queuedDocs)
        let small = directory.appendingPathComponent("small.jsonl")
        try writeDocuments(small, count: smallDocs)
        _ = try client.submit(spec: spec, name: "small", input: small)
        let smallMB = try residentMB(process.processIdentifier).current
        try? FileManager.default.removeItem(at: small)

        let big = directory.appendingPathComponent("big.jsonl")
        try writeDocuments(big, count: queuedDocs)
        let submitted = try client.submit(spec: spec, name: "queued", input: big)
        guard submitted.documentCount == UInt64(queuedDocs) else {
            throw CLIError("the coordinator queued \(submitted.documentCount) documents, not \(queuedDocs)")
        }
        _ = try client.status()
        let queued = try residentMB(process.processIdentifier)
        return MemoryFigure(idleMB: idle, smallDocs: smallDocs, smallMB: smallMB, queuedMB: queued.current, peakMB: queued.peak)
    }

    func writeDocuments(_ url: URL, count: Int) throws {
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        var chunk = Data()
        for i in 0..<count {
            chunk.append(contentsOf: #"{"id":\#(i),"text":"document \#(i)"}"#.utf8); chunk.append(0x0A)
            if chunk.count > 1 << 20 { try handle.write(contentsOf: chunk); chunk.removeAll(keepingCapacity: true) }
        }
        try handle.write(contentsOf: chunk)
        try handle.close()
    }

    /// VmRSS and VmHWM of a process, in MB (from /proc).
    func residentMB(_ pid: Int32) throws -> (current: Double, peak: Double) {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func field(_ name: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
                  let kb = Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") else { return 0 }
            return kb / 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }
}

/// A broker on the in-memory transport with a simulated clock and `workers` dealers standing for
/// worker processes; the tests' harness pattern at bench scale.
final class SimulatedFleet {
    let clock = ManualClock(startMs: 1_000_000)
    let router = InMemoryRouter()
    let broker: Broker
    let dealers: [InMemoryDealer]

    init(directory: URL, workers: Int, policy: Policy) throws {
        var logger = Logger(label: "dojo.bench.scale")
        logger.logLevel = .error
        broker = try Broker(transport: router, dataDirectory: directory, policy: policy, clock: clock, logger: logger)
        let router = self.router
        dealers = (0..<workers).map { router.connect(routingId: Data("sim-worker-\($0)".utf8)) }
    }

    /// One broker poll; returns the process CPU seconds it took (the simulated workers are idle
    /// meanwhile: they run on this thread between polls).
    func timedPoll() -> Double {
        let before = cpuSeconds()
        broker.poll(timeoutMs: 0)
        return cpuSeconds() - before
    }

    /// Streams a job of `documents` one-line documents in through a client on another thread
    /// (the client waits for replies in real time) while this thread runs the broker.
    func submit(documents: Int, shardSize: Int) throws -> Submitted {
        var input = Data()
        for i in 0..<documents { input.append(contentsOf: #"{"id":\#(i),"text":"document \#(i)"}"#.utf8); input.append(0x0A) }
        let dealer = router.connect(routingId: Data("sim-client".utf8))
        let client = CoordinatorClient(transport: dealer, timeoutMs: 60_000)
        let lock = NSLock()
        var outcome: Result<Submitted, Error>?
        let spec = Data(#"{"task":"noop","shard_size":\#(shardSize)}"#.utf8)
        let thread = Thread {
            var offset = 0
            let r = Result {
                try client.submit(spec: spec, name: "scale", totalBytes: UInt64(input.count), nextChunk: { max in
                    guard offset < input.count else { return nil }
                    let end = min(input.count, offset + max)
                    defer { offset = end }
                    return input.subdata(in: offset..<end)
                })
            }
            lock.withLock { outcome = r }
        }
        thread.start()
        while lock.withLock({ outcome == nil }) { broker.poll(timeoutMs: 1) }
        dealer.disconnect()
        return try outcome!.get()
    }

    /// Every worker says hello and grants `credits`.
    func joinAll(credits: UInt32) throws {
        for (i, dealer) in dealers.enumerated() {
            try dealer.send(.hello(Hello(workerName: "sim-\(i)", threads: 1)))
        }
        broker.poll(timeoutMs: 0)
        for dealer in dealers {
            for message in try drain(dealer) {
                guard case .welcome = message else { throw CLIError("simulated worker got \(message.kind), not welcome") }
            }
            try dealer.send(.ready(credits: credits))
        }
        broker.poll(timeoutMs: 0)
    }

    func heartbeatAll() throws {
        for dealer in dealers { try dealer.send(.workerHeartbeat(WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0))) }
    }

    /// The messages waiting for a dealer, coordinator heartbeats left out.
    func drain(_ dealer: InMemoryDealer) throws -> [Message] {
        var out: [Message] = []
        while let frames = try dealer.receive(timeoutMs: 0) {
            let message = try Message.decode(frames: frames)
            if case .heartbeat = message { continue }
            out.append(message)
        }
        return out
    }

    private func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
