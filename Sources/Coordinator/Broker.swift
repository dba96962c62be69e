// The coordinator loop (zguide mdbroker/ppqueue): one ROUTER-like transport, polled with the
// heartbeat interval as timeout; each message is decoded and dispatched on its kind to the
// scheduler (workers) or to the job handlers (clients); then expired workers are purged, their
// shards requeued, and due heartbeats sent. A malformed, wrong-version or unexpected message gets
// an error reply and a log line, never a crash.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import Wire

public final class Broker {
    public let policy: Policy
    public let store: JobStore
    public let paths: JobPaths
    public let output: OutputWriter
    public let scheduler: Scheduler
    public let name: String
    /// Connected workers and their leases, for readers on other threads (the HTTP endpoint).
    public let live: LiveState
    /// The coordinator's Prometheus metrics.
    public let metrics: CoordinatorMetrics
    /// Largest message the coordinator accepts; told to workers in `welcome`.
    public let maxMessageBytes: UInt64
    let transport: Transport
    let clock: MillisecondClock
    let limits: WireLimits
    let logger: Logger

    /// Routing ids of known workers, by the hex id the scheduler knows them by.
    private var workerPeers: [String: Data] = [:]
    private var uploads: [UInt64: Upload] = [:]
    /// Specs of recent jobs, so assignments don't read the store each time (bounded).
    private var specCache: [String: Data] = [:]
    /// Open input files of recent jobs, by job id (see `inputDescriptor`).
    private var inputFiles: [String: Int32] = [:]
    private var nextTickMs: UInt64 = 0
    /// Inside `run`: group commits are pipelined (see `advanceCommits`); `poll` alone commits at once.
    private var pipelining = false
    private var inFlight: InFlightGroup?
    /// Group commits started and ended (written or abandoned), for `deferredQueries`.
    private var groupsBegun = 0, groupsCommitted = 0
    private var deferredQueries: [DeferredQuery] = []
    private let writerQueue = DispatchQueue(label: "dojo.coordinator.output")

    struct Upload {
        var peer: Data
        var jobId: String
        var writer: SpoolWriter
        var nextSequence: UInt64
        var lastActivityMs: UInt64
    }

    /// Opens the store under `dataDirectory` (recovering from a crash) and readies the loop.
    public init(transport: Transport, dataDirectory: URL, policy: Policy = Policy(), clock: MillisecondClock = SystemClock(),
                name: String = "dojo-coordinator", limits: WireLimits = .default,
                logger: Logger = Logger(label: "dojo.coordinator")) throws {
        self.transport = transport; self.policy = policy; self.clock = clock; self.name = name
        self.limits = limits; self.logger = logger
        maxMessageBytes = UInt64(limits.maxPayloadBytes) + UInt64(limits.maxSpecBytes) + 4096
        paths = JobPaths(dataDirectory: dataDirectory)
        store = try JobStore(directory: dataDirectory, logger: logger)
        output = OutputWriter(store: store, paths: paths, logger: logger)
        scheduler = Scheduler(store: store, paths: paths, output: output, policy: policy, logger: logger)
        live = LiveState(clock: clock)
        metrics = CoordinatorMetrics(store: store)
        scheduler.metrics = metrics
        let r = store.recovery
        metrics.shardsRequeued(r.requeuedShards)
        logger.info("coordinator store opened", metadata: ["dir": "\(dataDirectory.path)", "requeued_shards": "\(r.requeuedShards)",
                                                           "resumed_jobs": "\(r.resumedJobs.count)",
                                                           "failed_uploads": "\(r.failedUploads.count)"])
    }

    deinit { for fd in inputFiles.values { close(fd) } }

    // MARK: - The loop

    /// Runs until `shouldStop` says so (checked at least once per heartbeat interval). Group
    /// commits are pipelined here: a group's files are written and fsynced on a thread of their
    /// own while the loop goes on handing out shards; the group is recorded when they are durable.
    public func run(until shouldStop: () -> Bool) {
        pipelining = true
        defer { pipelining = false }
        while !shouldStop() {
            let now = clock.nowMs
            var wait = nextTickMs > now ? min(nextTickMs - now, policy.heartbeatIntervalMs) : 0
            if inFlight != nil { wait = min(wait, 1) }  // look again soon: the group may be durable
            poll(timeoutMs: Int(wait))
        }
        commitResults()
    }

    /// One iteration: waits up to `timeoutMs` for a message, handles it and every message already
    /// waiting, commits the results among them, then, when due, purges expired workers and leases,
    /// sends heartbeats and dispatches. Tests call it with 0 after each step of a scenario (outside
    /// `run` the commit is not pipelined: results are done when it returns). Returns the messages handled.
    @discardableResult
    public func poll(timeoutMs: Int, forceTick: Bool = false) -> Int {
        var handled = 0
        do {
            var timeout = timeoutMs
            while handled < 10_000, let frames = try transport.receive(timeoutMs: timeout) {
                handle(frames)
                handled += 1
                timeout = 0
            }
        } catch {
            logger.error("transport receive failed", metadata: ["error": "\(error)"])
        }
        // Results that arrived together are committed together (group commit), once the messages
        // waiting have been read, so the fsyncs and the transaction are shared.
        if pipelining { advanceCommits() } else { commitResults() }
        let now = clock.nowMs
        if forceTick || now >= nextTickMs {
            perform { try scheduler.tick(nowMs: now) }
            // Tick at least every half interval, and exactly when a worker or lease runs out.
            nextTickMs = now + max(1, policy.heartbeatIntervalMs / 2)
            if let due = scheduler.nextDeadlineMs { nextTickMs = max(now + 1, min(nextTickMs, due)) }
            workerPeers = workerPeers.filter { scheduler.isKnown($0.key) }
            purgeIdleUploads(nowMs: now)
        }
        live.publishIfDue(workers: scheduler.workers, nowMs: now)
        return handled
    }

    /// Decodes and dispatches one multipart message `[peer id, body]`.
    public func handle(_ frames: [Data]) {
        guard let peer = frames.first, !peer.isEmpty else { return }
        let message: Message
        do {
            message = try Message.decode(frames: Array(frames.dropFirst()), limits: limits)
        } catch let error as WireDecodingError {
            logger.warning("bad message", metadata: ["peer": "\(hex(peer))", "error": "\(error)",
                                                     "bytes": "\(frames.dropFirst().reduce(0) { $0 + $1.count })"])
            send(error.reply, to: peer)
            return
        } catch {
            send(.error(ErrorReply(code: .badMessage, message: "\(error)")), to: peer)
            return
        }
        // Staged results commit before anything that could see or change their shards (status,
        // results, cancel, a worker leaving); results, credits and heartbeats may pass them. Inside
        // `run` a query (status, results, workers) does not wait for that: it is answered once the
        // results staged before it are committed, while the loop goes on handing out shards
        // (a client polling status every few milliseconds would otherwise hold dispatch behind
        // an fsync each time).
        switch message {
        case .result, .ready, .heartbeat, .workerHeartbeat: break
        case .status, .results, .workers:
            guard pipelining else { commitResults(); break }
            if scheduler.stagedResultCount > 0 || inFlight != nil {
                let barrier = groupsBegun + (scheduler.stagedResultCount > 0 ? 1 : 0)
                deferredQueries.append(DeferredQuery(afterGroup: barrier, peer: peer, message: message))
                return
            }
        default: commitResults()
        }
        respond(message, from: peer)
    }

    /// Carries out one decoded message, turning errors into replies.
    private func respond(_ message: Message, from peer: Data) {
        do {
            try dispatch(message, from: peer, nowMs: clock.nowMs)
        } catch let error as JobStoreError {
            if case .unknownJob = error { reply(peer, .unknownJob, "\(error)") } else { internalError(error, message, peer) }
        } catch {
            internalError(error, message, peer)
        }
    }

    /// A query waiting for the group commits of the results staged before it.
    struct DeferredQuery {
        /// Answered once this many groups have been committed (`groupsCommitted`).
        var afterGroup: Int
        var peer: Data
        var message: Message
    }

    /// Answers the deferred queries whose groups are committed, in arrival order.
    private func answerDeferredQueries() {
        while let first = deferredQueries.first, first.afterGroup <= groupsCommitted {
            deferredQueries.removeFirst()
            respond(first.message, from: first.peer)
        }
    }

    private func internalError(_ error: Error, _ message: Message, _ peer: Data) {
        logger.error("message handling failed", metadata: ["peer": "\(hex(peer))", "kind": "\(message.kind)",
                                                           "error": "\(error)"])
        send(.error(ErrorReply(code: .internalError, message: "coordinator could not handle \(message.kind): \(error)")), to: peer)
    }

    private func dispatch(_ message: Message, from peer: Data, nowMs now: UInt64) throws {
        let id = hex(peer)
        switch message {
        // Workers.
        case .hello(let h):
            workerPeers[id] = peer
            let info = WorkerInfo(identity: id, name: h.workerName, threads: Int(h.threads), cpuFeatures: h.cpuFeatures,
                                  models: h.models, adapters: h.adapters, softwareVersion: h.softwareVersion)
            perform { try scheduler.hello(id, info: info, nowMs: now) }
            send(.welcome(Welcome(coordinatorName: name, heartbeatIntervalMs: UInt32(clamping: policy.heartbeatIntervalMs),
                                  heartbeatLiveness: UInt16(clamping: policy.heartbeatLiveness),
                                  maxMessageBytes: maxMessageBytes)), to: peer)
        case .ready(let credits):
            guard knownWorker(id, peer, message) else { return }
            perform { try scheduler.ready(id, credits: credits, nowMs: now) }
        case .workerHeartbeat(let stats):
            guard knownWorker(id, peer, message) else { return }
            try scheduler.heartbeat(id, stats: stats, nowMs: now)
        case .heartbeat:
            guard knownWorker(id, peer, message) else { return }
            scheduler.seen(id, nowMs: now)
        case .result(let result):
            guard knownWorker(id, peer, message) else { return }
            do {
                if try scheduler.stageResult(id, result, nowMs: now) != nil {
                    perform { try scheduler.dispatch(nowMs: now) }
                }
            } catch {
                logger.error("scheduler step failed", metadata: ["error": "\(error)"])
            }
            if scheduler.stagedResultCount >= Self.maxResultGroup {
                if pipelining { advanceCommits() } else { commitResults() }
            }
        case .shardFailed(let failure):
            guard knownWorker(id, peer, message) else { return }
            scheduler.logger(forWorker: id).warning("shard attempt failed", metadata: [
                "job": "\(failure.jobId)", "shard": "\(failure.shardId)", "attempt": "\(failure.attemptId)"])
            perform { try scheduler.shardFailed(id, failure, nowMs: now) }
        case .bye(let reason):
            scheduler.logger(forWorker: id).info("worker left", metadata: ["reason": "\(reason.prefix(200))"])
            perform { try scheduler.bye(id, nowMs: now) }
            workerPeers[id] = nil

        // Clients.
        case .submitBegin(let begin): try submitBegin(begin, from: peer, nowMs: now)
        case .submitChunk(let chunk): try submitChunk(chunk, from: peer, nowMs: now)
        case .submitEnd(let end): try submitEnd(end, from: peer, nowMs: now)
        case .status(let jobId): try status(jobId, to: peer)
        case .cancel(let jobId):
            guard try store.job(jobId) != nil else { return reply(peer, .unknownJob, "no job \(jobId)") }
            var wasActive = false
            perform {
                let r = try scheduler.cancel(jobId: jobId, nowMs: now)
                wasActive = r.wasActive
                return r.actions
            }
            send(.cancelled(jobId: jobId, wasActive: wasActive), to: peer)
        case .results(let jobId, let index): try results(jobId, index, to: peer)
        case .workers: try workers(to: peer)

        case .error(let e):
            logger.warning("peer reported an error", metadata: ["peer": "\(id)", "code": "\(e.code.rawValue)",
                                                                "message": "\(e.message.prefix(200))"])
        case .welcome, .assign, .withdraw, .submitReady, .submitAck, .submitted, .statusReply, .cancelled, .resultsReply,
             .workersReply:
            logger.warning("unexpected message", metadata: ["peer": "\(id)", "kind": "\(message.kind)"])
            reply(peer, .unexpectedMessage, "the coordinator does not accept \(message.kind) messages")
        }
    }

    /// Messages other than hello from a worker the coordinator does not know (it restarted, or the
    /// worker was declared dead) are refused: the worker must say hello again.
    private func knownWorker(_ id: String, _ peer: Data, _ message: Message) -> Bool {
        if scheduler.isKnown(id) { return true }
        logger.info("message from unknown worker", metadata: ["worker_id": "\(id)", "kind": "\(message.kind)"])
        reply(peer, .unexpectedMessage, "unknown worker: send hello first")
        return false
    }

    // MARK: - Actions

    /// Most results committed as one group: bounds the time a result waits for its commit.
    static let maxResultGroup = 64

    /// Commits every staged result now, the group in flight first (waiting for its files), and
    /// carries out what follows (see `Scheduler.commitResults`).
    public func commitResults() {
        if let group = inFlight {
            group.done.wait()
            inFlight = nil
            finish(group)
        }
        if scheduler.stagedResultCount > 0 {
            let now = clock.nowMs
            perform { try scheduler.commitResults(nowMs: now).1 }
        }
        groupsBegun += 1
        groupsCommitted = groupsBegun
        answerDeferredQueries()
    }

    /// Pipelined group commit, never waiting: records the group in flight if its files are
    /// durable, then starts writing the next group from the staged results.
    private func advanceCommits() {
        if let group = inFlight {
            guard group.done.wait(timeout: .now()) == .success else { return }
            inFlight = nil
            finish(group)
        }
        guard scheduler.stagedResultCount > 0 else { return }
        let group: OutputWriter.Group
        do {
            guard let g = try scheduler.beginCommit(nowMs: clock.nowMs) else { return }
            group = g
            groupsBegun += 1
        } catch {
            // The results were abandoned (requeued): a group that ended, as far as queries go.
            logger.error("scheduler step failed", metadata: ["error": "\(error)"])
            groupsBegun += 1
            groupsCommitted = groupsBegun
            answerDeferredQueries()
            return
        }
        let flight = InFlightGroup(group: group)
        let output = self.output
        writerQueue.async {
            do { try output.writeOutputs(group.live) } catch { flight.error = error }
            flight.done.signal()
        }
        inFlight = flight
    }

    private func finish(_ flight: InFlightGroup) {
        let now = clock.nowMs
        perform { try scheduler.finishCommit(flight.group, writeError: flight.error, nowMs: now).1 }
        groupsCommitted += 1
        answerDeferredQueries()
    }

    /// A group whose files are being written on `writerQueue`. `error` is set before `done` is
    /// signalled and read only after it.
    final class InFlightGroup: @unchecked Sendable {
        let group: OutputWriter.Group
        let done = DispatchSemaphore(value: 0)
        var error: Error?
        init(group: OutputWriter.Group) { self.group = group }
    }

    /// Runs a scheduler step and carries out what it asks; a failure is logged, never fatal.
    private func perform(_ step: () throws -> [SchedulerAction]) {
        let actions: [SchedulerAction]
        do { actions = try step() } catch {
            logger.error("scheduler step failed", metadata: ["error": "\(error)"])
            return
        }
        for action in actions { carryOut(action) }
    }

    private func carryOut(_ action: SchedulerAction) {
        switch action {
        case .heartbeat(let worker):
            if let peer = workerPeers[worker] { send(.heartbeat, to: peer) }
        case .revoke(let worker, let jobId):
            if let peer = workerPeers[worker] { send(.cancel(jobId: jobId), to: peer) }
        case .withdraw(let worker, let jobId, let shardIndex, let attemptId):
            if let peer = workerPeers[worker] { send(.withdraw(jobId: jobId, shardId: shardIndex, attemptId: attemptId), to: peer) }
        case .assign(let worker, let lease):
            guard let peer = workerPeers[worker] else { return }
            do {
                let raw = try ShardReader.read(lease.cut, fd: try inputDescriptor(lease.jobId), path: paths.input(lease.jobId).path)
                let documents = try LZ4Frame.compress(ShardReader.payload(raw, cut: lease.cut))
                let assignment = Assignment(jobId: lease.jobId, shardId: lease.shardIndex, attemptId: lease.attemptId,
                                            leaseDeadlineMs: lease.deadlineMs, taskSpec: try spec(of: lease.jobId),
                                            documentCount: UInt32(lease.cut.documentCount), documents: documents,
                                            firstLine: lease.cut.firstLine)
                send(.assign(assignment), to: peer)
                scheduler.logger(forWorker: worker).debug("shard assigned", metadata: [
                                                          "job": "\(lease.jobId)", "shard": "\(lease.shardIndex)",
                                                          "attempt": "\(lease.attemptId)",
                                                          "docs": "\(lease.cut.documentCount)", "bytes": "\(documents.count)"])
            } catch {
                logger.error("cannot read shard for assignment", metadata: ["job": "\(lease.jobId)", "shard": "\(lease.shardIndex)",
                                                                            "error": "\(error)"])
                let now = clock.nowMs
                perform { try scheduler.fail(jobId: lease.jobId, error: "cannot read the job's spool: \(error)", nowMs: now) }
            }
        }
    }

    /// The job's spooled input, opened once for all its assignments (a few recent jobs stay open).
    private func inputDescriptor(_ jobId: String) throws -> Int32 {
        if let fd = inputFiles[jobId] { return fd }
        let path = paths.input(jobId).path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SpoolError.io(path: path, what: "cannot open: \(String(cString: strerror(errno)))") }
        if inputFiles.count >= 16 {
            for descriptor in inputFiles.values { close(descriptor) }
            inputFiles.removeAll()
        }
        inputFiles[jobId] = fd
        return fd
    }

    private func spec(of jobId: String) throws -> Data {
        if let spec = specCache[jobId] { return spec }
        guard let job = try store.job(jobId) else { throw JobStoreError.unknownJob(jobId) }
        if specCache.count >= 64 { specCache.removeAll() }
        specCache[jobId] = job.spec
        return job.spec
    }

    private func send(_ message: Message, to peer: Data) {
        do { try transport.send(message, to: peer) } catch {
            logger.info("send failed", metadata: ["peer": "\(hex(peer))", "kind": "\(message.kind)", "error": "\(error)"])
        }
    }

    private func reply(_ peer: Data, _ code: ErrorCode, _ text: String) {
        send(.error(ErrorReply(code: code, message: text)), to: peer)
    }

    // MARK: - Client requests

    private func submitBegin(_ begin: SubmitBegin, from peer: Data, nowMs: UInt64) throws {
        let spec: JobSpec
        do { spec = try JobSpec(json: begin.spec, defaultRetries: policy.defaultRetries) } catch {
            return reply(peer, .invalidSpec, "\(error)")
        }
        let name = !begin.name.isEmpty ? begin.name : (spec.name ?? spec.task)
        let job = try store.createJob(name: name, spec: spec, specData: begin.spec, nowMs: nowMs)
        let writer = try SpoolWriter(paths: paths, jobId: job.id, shardSize: spec.shardSize, shardTokens: spec.shardTokens)
        let uploadId = UInt64(try store.bump("upload_id"))
        uploads[uploadId] = Upload(peer: peer, jobId: job.id, writer: writer, nextSequence: 0, lastActivityMs: nowMs)
        logger.info("upload started", metadata: ["job": "\(job.id)", "upload": "\(uploadId)", "task": "\(spec.task)",
                                                 "bytes": "\(begin.totalBytes.map(String.init) ?? "?")"])
        send(.submitReady(SubmitReady(uploadId: uploadId, credits: policy.uploadCredits,
                                      maxChunkBytes: policy.uploadChunkBytes)), to: peer)
    }

    private func submitChunk(_ chunk: SubmitChunk, from peer: Data, nowMs: UInt64) throws {
        guard var upload = uploads[chunk.uploadId], upload.peer == peer else {
            return reply(peer, .notFound, "no upload \(chunk.uploadId) from this client")
        }
        guard chunk.sequence == upload.nextSequence else {
            return abortUpload(chunk.uploadId, peer, .badMessage,
                               "chunk \(chunk.sequence) out of order; expected \(upload.nextSequence)", nowMs: nowMs)
        }
        guard chunk.bytes.count <= Int(policy.uploadChunkBytes) else {
            return abortUpload(chunk.uploadId, peer, .tooLarge,
                               "chunk of \(chunk.bytes.count) bytes is over the limit of \(policy.uploadChunkBytes)", nowMs: nowMs)
        }
        let cuts = try upload.writer.append(chunk.bytes)
        try store.appendShards(jobId: upload.jobId, cuts: cuts)
        upload.nextSequence += 1
        upload.lastActivityMs = nowMs
        uploads[chunk.uploadId] = upload
        send(.submitAck(SubmitAck(uploadId: chunk.uploadId, sequence: chunk.sequence, credits: 1)), to: peer)
    }

    private func submitEnd(_ end: SubmitEnd, from peer: Data, nowMs: UInt64) throws {
        guard let upload = uploads[end.uploadId], upload.peer == peer else {
            return reply(peer, .notFound, "no upload \(end.uploadId) from this client")
        }
        guard end.chunkCount == upload.nextSequence, end.totalBytes == upload.writer.bytesWritten else {
            return abortUpload(end.uploadId, peer, .badMessage,
                               "upload ended with \(end.chunkCount) chunks / \(end.totalBytes) bytes but \(upload.nextSequence) chunks / \(upload.writer.bytesWritten) bytes arrived",
                               nowMs: nowMs)
        }
        uploads[end.uploadId] = nil
        let cuts = try upload.writer.finish()
        try store.appendShards(jobId: upload.jobId, cuts: cuts)
        let job = try store.completeInput(jobId: upload.jobId, documents: upload.writer.documentCount,
                                          inputBytes: upload.writer.bytesWritten, nowMs: nowMs)
        logger.info("job submitted", metadata: ["job": "\(job.id)", "docs": "\(job.documentsTotal)",
                                                "shards": "\(job.shardCount)", "bytes": "\(job.inputBytes)"])
        send(.submitted(Submitted(jobId: job.id, documentCount: job.documentsTotal, shardCount: UInt32(job.shardCount))), to: peer)
        perform { try scheduler.dispatch(nowMs: nowMs) }
    }

    private func abortUpload(_ uploadId: UInt64, _ peer: Data, _ code: ErrorCode, _ why: String, nowMs: UInt64) {
        if let upload = uploads.removeValue(forKey: uploadId) {
            upload.writer.abandon()
            perform { try scheduler.fail(jobId: upload.jobId, error: "upload failed: \(why)", nowMs: nowMs) }
        }
        logger.warning("upload aborted", metadata: ["upload": "\(uploadId)", "reason": "\(why)"])
        reply(peer, code, why)
    }

    private func purgeIdleUploads(nowMs: UInt64) {
        for (id, upload) in uploads where nowMs >= upload.lastActivityMs + policy.uploadIdleTimeoutMs {
            uploads[id] = nil
            upload.writer.abandon()
            logger.warning("upload abandoned", metadata: ["upload": "\(id)", "job": "\(upload.jobId)"])
            perform { try scheduler.fail(jobId: upload.jobId, error: "the client stopped sending its input", nowMs: nowMs) }
        }
    }

    private func status(_ jobId: String?, to peer: Data) throws {
        let jobs = try store.jobStatuses(jobId: jobId)
        if let jobId, jobs.isEmpty { return reply(peer, .unknownJob, "no job \(jobId)") }
        let document = StatusDocument(jobs: jobs)
        send(.statusReply(json: try Self.encoder.encode(document)), to: peer)
    }

    private func results(_ jobId: String, _ index: UInt32, to peer: Data) throws {
        guard try store.job(jobId) != nil else { return reply(peer, .unknownJob, "no job \(jobId)") }
        let (shard, count, frame) = try output.frame(jobId: jobId, ordinal: Int(index))
        let state: ResultsReply.State = shard == nil ? .noSuchShard : (frame == nil ? .pending : .done)
        send(.resultsReply(ResultsReply(jobId: jobId, shardIndex: index, shardCount: UInt32(count), state: state,
                                        frame: frame ?? Data())), to: peer)
    }

    private func workers(to peer: Data) throws {
        let nowMs = clock.nowMs
        let document = WorkersDocument(workers: try store.workers().map {
            WorkerStatus(record: $0, live: scheduler.workers[$0.info.identity], nowMs: nowMs)
        })
        send(.workersReply(json: try Self.encoder.encode(document)), to: peer)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()
}

/// Lowercase hex of a routing id: how workers are named in the store and in logs.
func hex(_ data: Data) -> String {
    // Called for every message: a table lookup, not String(format:) per byte.
    let digits: [UInt8] = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(data.count * 2)
    for byte in data { out.append(digits[Int(byte >> 4)]); out.append(digits[Int(byte & 0x0F)]) }
    return String(decoding: out, as: UTF8.self)
}
