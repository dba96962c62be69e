import Coordinator
import Foundation
import Wire
import XCTest

private struct UnexpectedReply: Error { var what: String }

/// The broker loop with many workers, on the in-memory transport and a manual clock.
final class FleetTests: XCTestCase {
    private struct Fleet {
        let clock = ManualClock(startMs: 10_000)
        let router = InMemoryRouter()
        let broker: Broker
        let workers: [InMemoryDealer]

        init(_ test: XCTestCase, workers count: Int, name: String = #function) throws {
            broker = try Broker(transport: router, dataDirectory: try makeDataDirectory(test, name), clock: clock)
            let router = self.router
            workers = (0..<count).map { router.connect(routingId: Data("w\($0)".utf8)) }
        }

        /// Submits `input` as a no-op job through a client dealer, chunk by chunk.
        func submit(_ input: Data, shardSize: Int) throws -> Submitted {
            let client = router.connect(routingId: Data("client".utf8))
            try client.send(.submitBegin(SubmitBegin(name: "fleet", spec: Data(#"{"task":"noop","shard_size":\#(shardSize)}"#.utf8))))
            broker.poll(timeoutMs: 0)
            guard case .submitReady(let ready) = try Message.decode(frames: try XCTUnwrap(client.receive(timeoutMs: 0))) else {
                throw UnexpectedReply(what: "submitReady")
            }
            var sequence: UInt64 = 0
            for start in stride(from: 0, to: input.count, by: Int(ready.maxChunkBytes)) {
                let chunk = input.subdata(in: start..<min(input.count, start + Int(ready.maxChunkBytes)))
                try client.send(.submitChunk(SubmitChunk(uploadId: ready.uploadId, sequence: sequence, bytes: chunk)))
                broker.poll(timeoutMs: 0)
                _ = try client.receive(timeoutMs: 0)
                sequence += 1
            }
            try client.send(.submitEnd(SubmitEnd(uploadId: ready.uploadId, chunkCount: sequence, totalBytes: UInt64(input.count))))
            broker.poll(timeoutMs: 0)
            guard case .submitted(let submitted) = try Message.decode(frames: try XCTUnwrap(client.receive(timeoutMs: 0))) else {
                throw UnexpectedReply(what: "submitted")
            }
            return submitted
        }

        /// Attempt ids assigned to each worker since the last call.
        func assignments() throws -> [[UInt64]] {
            try workers.map { dealer in
                var ids: [UInt64] = []
                while let frames = try dealer.receive(timeoutMs: 0) {
                    if case .assign(let a) = try Message.decode(frames: frames) { ids.append(a.attemptId) }
                }
                return ids
            }
        }
    }

    /// 20 workers hold two leases each; 4 of them go silent at a time that is not on the broker's
    /// tick phase. Their 8 shards are requeued exactly 3 heartbeat intervals (liveness × interval)
    /// after the last message heard from them: not a millisecond before, not a tick period after.
    func testLostWorkersShardsAreRequeuedWithinThreeHeartbeatIntervals() throws {
        let fleet = try Fleet(self, workers: 20)
        let interval = fleet.broker.policy.heartbeatIntervalMs
        let job = try fleet.submit(makeInput(count: 200), shardSize: 4)
        for (i, w) in fleet.workers.enumerated() { try w.send(.hello(Hello(workerName: "w\(i)", threads: 1))) }
        fleet.broker.poll(timeoutMs: 0)
        for w in fleet.workers { try w.send(.ready(credits: 2)) }
        fleet.broker.poll(timeoutMs: 0)
        let held = try fleet.assignments()
        XCTAssertEqual(held.map(\.count), Array(repeating: 2, count: 20))
        let lost = 0..<4
        let lostAttempts = lost.flatMap { held[$0] }

        // Everyone beats each interval; the lost four send their last heartbeat at 12,337 ms.
        let lastHeard: UInt64 = 12_337
        var nextBeat = fleet.clock.nowMs + interval
        var requeuedAt: UInt64?
        while requeuedAt == nil && fleet.clock.nowMs < lastHeard + 5 * interval {
            fleet.clock.advance(byMs: 1)
            let now = fleet.clock.nowMs
            for (i, w) in fleet.workers.enumerated() {
                let beats = now == nextBeat && (!lost.contains(i) || now < lastHeard)
                if beats || (now == lastHeard && lost.contains(i)) {
                    try w.send(.workerHeartbeat(WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0, activeAttemptIds: held[i])))
                }
            }
            if now == nextBeat { nextBeat += interval }
            fleet.broker.poll(timeoutMs: 0)
            let known = lost.map { fleet.broker.scheduler.isKnown(hex("w\($0)")) }
            if known == [false, false, false, false] { requeuedAt = now } else { XCTAssertEqual(known, [true, true, true, true], "at \(now)") }
            if now == lastHeard + 3 * interval - 1 {
                XCTAssertEqual(try lostAttempts.map { try fleet.broker.store.attempt($0)?.state }, Array(repeating: .running, count: 8))
            }
        }
        XCTAssertEqual(requeuedAt, lastHeard + 3 * interval)
        // Each lost worker held two leases: the first was computing (a crash), the second queued
        // behind it (given back without a crash to its name).
        XCTAssertEqual(try lostAttempts.map { try fleet.broker.store.attempt($0)?.state },
                       Array(repeating: [AttemptState.expired, .abandoned], count: 4).flatMap { $0 })
        let shards = try fleet.broker.store.shards(jobId: job.jobId)
        let lostShards = try lostAttempts.map { try XCTUnwrap(fleet.broker.store.attempt($0)).shardIndex }
        XCTAssertEqual(lostShards.map { shards[Int($0)].state }, Array(repeating: .queued, count: 8))
        XCTAssertEqual(shards.filter { $0.state == .leased }.count, 32, "the 16 live workers keep their leases")
        XCTAssertEqual((0..<20).map { fleet.broker.scheduler.isKnown(hex("w\($0)")) }, (0..<20).map { $0 >= 4 })
    }

    /// Queued shards live in the store, not in the coordinator's memory: with a 5,000-shard job
    /// queued, the scheduler holds exactly the leases its workers have credit for.
    func testQueuedShardsLiveInTheStoreNotInMemory() throws {
        let fleet = try Fleet(self, workers: 3)
        let job = try fleet.submit(makeInput(count: 5_000, lineBytes: 24), shardSize: 1)
        XCTAssertEqual(job.shardCount, 5_000)
        for (i, w) in fleet.workers.enumerated() { try w.send(.hello(Hello(workerName: "w\(i)", threads: 1))) }
        fleet.broker.poll(timeoutMs: 0)
        for w in fleet.workers { try w.send(.ready(credits: 2)) }
        fleet.broker.poll(timeoutMs: 0)
        XCTAssertEqual(try fleet.assignments().map(\.count), [2, 2, 2])
        let live = fleet.broker.scheduler.workers.values
        XCTAssertEqual(live.reduce(0) { $0 + $1.leases.count }, 6)
        XCTAssertEqual(fleet.broker.scheduler.stagedResultCount, 0)
        let states = try fleet.broker.store.shards(jobId: job.jobId).map(\.state)
        XCTAssertEqual(states.filter { $0 == .queued }.count, 4_994)
        XCTAssertEqual(states.filter { $0 == .leased }.count, 6)
    }

    /// In `run` group commits are pipelined (files written on another thread), yet a result is
    /// never reported before it is committed, and any request that follows a result sees it done:
    /// the status asked right after the last result says the job completed, with every document.
    func testRequestAfterAResultSeesItCommittedWhileCommitsArePipelined() throws {
        let dir = try makeDataDirectory(self)
        let router = InMemoryRouter()
        let broker = try Broker(transport: router, dataDirectory: dir)
        let client = CoordinatorClient(transport: router.connect(routingId: Data("cli".utf8)), timeoutMs: 10_000)
        let worker = router.connect(routingId: Data("worker".utf8))
        let stop = StopFlag()
        let loop = Thread { broker.run(until: { stop.isSet }) }
        loop.start()
        defer { stop.set(); while loop.isExecuting { usleep(1_000) } }

        let input = makeInput(count: 300, lineBytes: 40)
        var offset = 0
        let submitted = try client.submit(spec: Data(#"{"task":"noop","shard_size":10}"#.utf8), name: "pipelined", nextChunk: { max in
            guard offset < input.count else { return nil }
            let end = min(input.count, offset + max)
            defer { offset = end }
            return input.subdata(in: offset..<end)
        })
        XCTAssertEqual(submitted.shardCount, 30)
        try worker.send(.hello(Hello(workerName: "w", threads: 1)))
        try worker.send(.ready(credits: 4))
        var answered = 0
        while answered < 30 {
            guard let frames = try worker.receive(timeoutMs: 10_000) else { return XCTFail("no assignment after \(answered)") }
            guard case .assign(let a) = try Message.decode(frames: frames) else { continue }
            let docs = try LZ4Frame.decompress(a.documents, maxOutputBytes: 1 << 20)
            try worker.send(.result(ShardResult(jobId: a.jobId, shardId: a.shardId, attemptId: a.attemptId,
                                                documentCount: a.documentCount, errorCount: 0, tokenCount: 0,
                                                rawBytes: UInt64(docs.count), frame: a.documents)))
            answered += 1
            if answered < 30 { try worker.send(.ready(credits: 1)) }
        }
        let status = try XCTUnwrap(client.status(jobId: submitted.jobId).first)
        XCTAssertEqual(status.state, "completed")
        XCTAssertEqual(status.documentsDone, 300)
        var output = Data()
        XCTAssertEqual(try client.results(jobId: submitted.jobId) { output += $0 }, ResultsSummary(shards: 30, pending: 0, bytes: UInt64(input.count)))
        XCTAssertEqual(output, input)
    }

    private func hex(_ s: String) -> String { s.utf8.map { String(format: "%02x", $0) }.joined() }
}
