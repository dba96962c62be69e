import DomainTasks
import Foundation
import Logging
import Wire

/// How a worker connects and how much it takes on.
public struct WorkerOptions: Sendable {
    public var endpoint: String
    public var name: String
    public var threads: Int
    /// Shards held at once (one computing, the rest queued).
    public var credits: Int
    /// CURVE: this worker's key pair and the coordinator's public key.
    public var curve: (keys: CurveKeyPair, serverPublicKey: String)?
    /// How long to wait for a CURVE handshake before treating the coordinator as unreachable.
    public var handshakeTimeoutMs: Int
    /// Longest wait between reconnection attempts.
    public var reconnectMaxMs: UInt64

    public init(endpoint: String, name: String, threads: Int, credits: Int = 2,
                curve: (keys: CurveKeyPair, serverPublicKey: String)? = nil,
                handshakeTimeoutMs: Int = 5_000, reconnectMaxMs: UInt64 = 10_000) {
        self.endpoint = endpoint; self.name = name; self.threads = threads; self.credits = credits
        self.curve = curve; self.handshakeTimeoutMs = handshakeTimeoutMs; self.reconnectMaxMs = reconnectMaxMs
    }
}

/// The worker loop. This thread owns the coordinator socket: it says hello, grants credits, sends
/// heartbeats while shards compute on a thread of their own, returns results, and reconnects with
/// backoff when the coordinator goes silent. `stop` (SIGTERM) finishes the running shard, hands the
/// queued ones back and leaves.
public final class WorkerNode {
    let options: WorkerOptions
    let runner: ShardRunner
    let models: ModelCache
    let context: ZMQContext
    let clock = SystemClock()
    /// What `dojo worker --http` serves.
    public let metrics: WorkerMetrics
    private let logger: Logger

    // Shared with the compute thread, under `lock`.
    private let lock = NSCondition()
    private var queue: [Assignment] = []
    private var running: Assignment?
    /// Running attempts the coordinator withdrew (another copy of the shard won).
    private var withdrawn: Set<UInt64> = []
    private var outbox: [Result<ShardResult, ShardFailure>] = []
    private var computeShouldExit = false
    private let computeExited = DispatchSemaphore(value: 0)
    private let wakeEndpoint = "inproc://dojo-worker-wake-\(UUID().uuidString)"

    // Throughput over the life of the worker, for heartbeats.
    private var documentsDone = 0, tokensDone = 0
    private var busyMs: UInt64 = 0

    public init(options: WorkerOptions, runner: ShardRunner, models: ModelCache, metrics: WorkerMetrics = WorkerMetrics()) throws {
        self.options = options
        self.metrics = metrics
        self.runner = runner
        self.models = models
        self.context = try ZMQContext()
        var logger = Logger(label: "dojo.worker")
        logger[metadataKey: "worker"] = "\(options.name)"
        self.logger = logger
    }

    /// Runs until `shouldStop` turns true and the running shard is done; throws when the coordinator refuses this worker.
    public func run(shouldStop: @escaping () -> Bool) throws {
        let wake = try context.socket(.pair)
        try wake.bind(wakeEndpoint)
        defer { wake.close() }
        let compute = Thread { [self] in computeLoop() }
        compute.name = "dojo.worker.compute"
        compute.start()
        defer {
            lock.lock(); computeShouldExit = true; lock.broadcast(); lock.unlock()
        }

        var heartbeatIntervalMs: UInt64 = 1_000, liveness: UInt64 = 3
        var backoffMs: UInt64 = 250
        var socket = try connect()
        var lastHeardMs = clock.nowMs, lastBeatMs: UInt64 = 0
        var welcomed = false
        var byeSent = false

        while true {
            let stopping = shouldStop()
            if stopping {
                // Queued shards go back to the coordinator with the bye; the running one finishes first.
                lock.lock(); queue.removeAll(); let idle = running == nil && outbox.isEmpty; lock.unlock()
                if idle {
                    if !byeSent { try? socket.send(.bye(reason: "worker stopping")); byeSent = true }
                    socket.set(lingerMs: 2_000)
                    socket.close()
                    metrics.setConnected(false)
                    flushAndClose(wake: wake)
                    logger.info("worker stopped")
                    return
                }
            }
            let ready = try ZMQPoll.poll([ZMQPollItem(socket, .readable), ZMQPollItem(wake, .readable)],
                                         timeoutMs: Int(min(heartbeatIntervalMs, 250)))
            if ready[1].contains(.readable) { while (try? wake.receive(timeoutMs: 0)) != nil {} }

            // Results first: the coordinator is waiting for them.
            lock.lock(); let finished = outbox; outbox.removeAll(); lock.unlock()
            for outcome in finished {
                switch outcome {
                case .success(let r):
                    try socket.send(.result(r))
                    logger.debug("shard done", metadata: ["job": "\(r.jobId)", "shard": "\(r.shardId)", "attempt": "\(r.attemptId)",
                                                          "docs": "\(r.documentCount)", "errors": "\(r.errorCount)",
                                                          "raw_bytes": "\(r.rawBytes)", "frame_bytes": "\(r.frame.count)"])
                case .failure(let f) where f.reason == ShardRunner.withdrawnReason:
                    // The coordinator already forgot this attempt; only the credit goes back.
                    break
                case .failure(let f):
                    try socket.send(.shardFailed(f))
                    logger.warning("shard failed", metadata: ["job": "\(f.jobId)", "shard": "\(f.shardId)", "reason": "\(f.reason)"])
                }
                if !stopping && welcomed { try socket.send(.ready(credits: 1)) }
            }

            if ready[0].contains(.readable) {
                while let frames = try socket.receive(timeoutMs: 0) {
                    lastHeardMs = clock.nowMs
                    let message: Message
                    do { message = try Message.decode(frames: frames) } catch {
                        logger.warning("malformed message from the coordinator", metadata: ["error": "\(error)"])
                        continue
                    }
                    switch message {
                    case .welcome(let w):
                        heartbeatIntervalMs = UInt64(max(w.heartbeatIntervalMs, 10))
                        liveness = UInt64(max(w.heartbeatLiveness, 1))
                        welcomed = true
                        metrics.setConnected(true)
                        backoffMs = 250
                        logger.info("joined the coordinator", metadata: ["coordinator": "\(w.coordinatorName)", "endpoint": "\(options.endpoint)"])
                        if !stopping { try socket.send(.ready(credits: UInt32(options.credits))) }
                    case .assign(let a):
                        lock.lock()
                        if stopping { lock.unlock(); continue }
                        queue.append(a); lock.signal(); lock.unlock()
                    case .withdraw(let jobId, let shardId, let attemptId):
                        lock.lock()
                        let before = queue.count
                        queue.removeAll { $0.attemptId == attemptId }
                        let dropped = before - queue.count
                        if running?.attemptId == attemptId { withdrawn.insert(attemptId) }
                        lock.unlock()
                        if dropped > 0 && !stopping { try socket.send(.ready(credits: UInt32(dropped))) }
                        logger.info("attempt withdrawn", metadata: ["job": "\(jobId)", "shard": "\(shardId)", "attempt": "\(attemptId)",
                                                                   "was_running": "\(dropped == 0)"])
                    case .cancel(let jobId):
                        lock.lock()
                        let before = queue.count
                        queue.removeAll { $0.jobId == jobId }
                        let dropped = before - queue.count
                        lock.unlock()
                        if dropped > 0 && !stopping { try socket.send(.ready(credits: UInt32(dropped))) }
                        logger.info("job cancelled", metadata: ["job": "\(jobId)", "dropped_shards": "\(dropped)"])
                    case .error(let e) where e.message.contains("send hello first"):
                        logger.info("coordinator does not know this worker; saying hello again")
                        welcomed = false
                        lock.lock(); queue.removeAll(); lock.unlock()
                        try socket.send(hello())
                    case .error(let e):
                        logger.warning("coordinator error", metadata: ["code": "\(e.code.rawValue)", "message": "\(e.message)"])
                        if e.code == .unauthorized || e.code == .unsupportedVersion {
                            throw WorkerError.refused("coordinator at \(options.endpoint) refused this worker: \(e.message)")
                        }
                    case .heartbeat:
                        break
                    default:
                        logger.warning("unexpected message from the coordinator", metadata: ["kind": "\(message.kind)"])
                    }
                }
            }

            let now = clock.nowMs
            if welcomed && now - lastBeatMs >= heartbeatIntervalMs {
                lastBeatMs = now
                try socket.send(.workerHeartbeat(stats()))
            }
            if now - lastHeardMs > heartbeatIntervalMs * liveness {
                // The coordinator went silent: start over on a new socket, after a growing pause.
                logger.warning("coordinator silent; reconnecting", metadata: ["silent_ms": "\(now - lastHeardMs)", "backoff_ms": "\(backoffMs)"])
                socket.close()
                welcomed = false
                metrics.setConnected(false)
                lock.lock(); queue.removeAll(); lock.unlock()
                Thread.sleep(forTimeInterval: Double(backoffMs) / 1000)
                backoffMs = min(backoffMs * 2, options.reconnectMaxMs)
                socket = try connect()
                lastHeardMs = clock.nowMs
            }
        }
    }

    /// Stops the compute thread and terminates the context, so the bye still queued in libzmq's I/O
    /// thread reaches the coordinator before the process exits (without it the coordinator would
    /// count the worker as lost, not gone). Bounded: a socket left open cannot hang shutdown.
    private func flushAndClose(wake: ZMQSocket) {
        lock.lock(); computeShouldExit = true; lock.broadcast(); lock.unlock()
        _ = computeExited.wait(timeout: .now() + 1)
        wake.close()
        let flushed = DispatchSemaphore(value: 0)
        let context = self.context
        Thread { context.terminate(); flushed.signal() }.start()
        if flushed.wait(timeout: .now() + 3) == .timedOut {
            logger.warning("the goodbye to the coordinator may not have been sent (libzmq did not flush within 3 s)")
        }
    }

    /// A new DEALER to the coordinator, CURVE if configured, and a hello on it.
    private func connect() throws -> ZMQSocket {
        let socket = try context.socket(.dealer)
        try socket.set([.sendHighWaterMark(messages: 1_000), .receiveHighWaterMark(messages: 1_000),
                        .maxMessageSize(bytes: 1 << 31), .linger(ms: 0), .reconnectInterval(ms: 100),
                        .reconnectIntervalMax(ms: Int32(options.reconnectMaxMs))])
        var monitor: ZMQMonitor?
        if let curve = options.curve {
            try socket.makeCurveClient(curve.keys, serverPublicKey: curve.serverPublicKey)
            monitor = try ZMQMonitor(socket, events: .handshake)
        }
        try socket.connect(options.endpoint)
        if let monitor {
            defer { monitor.stop() }
            switch try monitor.awaitHandshake(timeoutMs: options.handshakeTimeoutMs) {
            case .refused(let status):
                socket.close()
                throw WorkerError.refused("coordinator at \(options.endpoint) refused this worker's CURVE key (ZAP status \(status)); "
                    + "add this worker's public key to the coordinator's --authorized-keys directory")
            case .failed(let event):
                socket.close()
                throw WorkerError.refused("CURVE handshake with \(options.endpoint) failed (\(event)); check the coordinator's public key")
            case .succeeded, .timedOut:
                break
            }
        }
        try socket.send(hello())
        return socket
    }

    private func hello() -> Message {
        .hello(Hello(workerName: options.name, threads: UInt16(clamping: options.threads), cpuFeatures: CPUFeatures.current,
                     models: models.loadedModels, adapters: models.loadedAdapters, softwareVersion: "dojo 0.1"))
    }

    private func stats() -> WorkerStats {
        let loadedModels = models.loadedModels, loadedAdapters = models.loadedAdapters
        lock.lock(); defer { lock.unlock() }
        let seconds = max(Double(busyMs) / 1000, 1e-3)
        let ids = queue.map(\.attemptId) + (running.map { [$0.attemptId] } ?? [])
        return WorkerStats(documentsPerSecond: busyMs == 0 ? 0 : Double(documentsDone) / seconds,
                           tokensPerSecond: busyMs == 0 ? 0 : Double(tokensDone) / seconds, activeAttemptIds: ids,
                           models: loadedModels, adapters: loadedAdapters)
    }

    /// The compute thread: one shard at a time, results into the outbox, a wake-up to the I/O thread.
    private func computeLoop() {
        defer { computeExited.signal() }
        guard let wake = try? context.socket(.pair), (try? wake.connect(wakeEndpoint)) != nil else { return }
        defer { wake.close() }
        while true {
            lock.lock()
            while queue.isEmpty && !computeShouldExit { lock.wait() }
            if computeShouldExit { lock.unlock(); return }
            let assignment = queue.removeFirst()
            running = assignment
            lock.unlock()

            let started = clock.nowMs
            metrics.setBusy(true)
            let attemptId = assignment.attemptId
            let outcome = runner.run(assignment, shouldStop: { [self] in
                lock.lock(); defer { lock.unlock() }
                return withdrawn.contains(attemptId) || computeShouldExit
            })
            let elapsed = clock.nowMs - started
            metrics.setBusy(false)
            metrics.shardFinished(outcome, elapsedMs: elapsed)

            lock.lock()
            running = nil
            withdrawn.remove(attemptId)
            outbox.append(outcome)
            if case .success(let r) = outcome {
                documentsDone += Int(r.documentCount); tokensDone += Int(r.tokenCount); busyMs += elapsed
            }
            lock.unlock()
            _ = try? wake.send([Data([1])], dontWait: true)
        }
    }
}

extension ZMQSocket {
    /// Lets queued messages (a bye) leave before close.
    func set(lingerMs: Int32) { try? set(.linger(ms: lingerMs)) }
}
