import Coordinator
import Foundation
import Wire
import XCTest

final class BrokerTests: XCTestCase {
    private func receive(_ dealer: InMemoryDealer, file: StaticString = #filePath, line: UInt = #line) throws -> Message {
        let frames = try XCTUnwrap(try dealer.receive(timeoutMs: 0), "no reply", file: file, line: line)
        return try Message.decode(frames: frames)
    }

    func testMalformedWrongVersionAndUnexpectedMessagesGetErrorReplies() throws {
        let router = InMemoryRouter()
        let broker = try Broker(transport: router, dataDirectory: try makeDataDirectory(self), clock: ManualClock())
        let peer = router.connect(routingId: Data("client-1".utf8))

        try peer.send([Data([0x01, 0x02, 0x03])])
        broker.poll(timeoutMs: 0)
        guard case .error(let garbage) = try receive(peer) else { return XCTFail("expected an error reply") }
        XCTAssertEqual(garbage.code, .badMessage)

        try peer.send([Data([0x44, 0x4A, 99, Message.Kind.status.rawValue, 0])])
        broker.poll(timeoutMs: 0)
        guard case .error(let version) = try receive(peer) else { return XCTFail("expected an error reply") }
        XCTAssertEqual(version.code, .unsupportedVersion)

        try peer.send(.ready(credits: 1))
        broker.poll(timeoutMs: 0)
        XCTAssertEqual(try receive(peer), .error(ErrorReply(code: .unexpectedMessage, message: "unknown worker: send hello first")))

        try peer.send(.status(jobId: "j999999"))
        broker.poll(timeoutMs: 0)
        XCTAssertEqual(try receive(peer), .error(ErrorReply(code: .unknownJob, message: "no job j999999")))

        try peer.send(.submitBegin(SubmitBegin(name: "x", spec: Data("task: embed".utf8))))
        broker.poll(timeoutMs: 0)
        XCTAssertEqual(try receive(peer), .error(ErrorReply(code: .invalidSpec, message: "job spec: `(spec)` is not valid JSON")))

        // Still serving after all that.
        try peer.send(.status(jobId: nil))
        broker.poll(timeoutMs: 0)
        XCTAssertEqual(try receive(peer), .statusReply(json: Data(#"{"jobs":[]}"#.utf8)))
    }

    /// A whole job through the loop with the in-memory transport and a manual clock: upload with
    /// flow control, a worker pulling shards, heartbeats, status and results.
    func testJobThroughTheLoop() throws {
        let clock = ManualClock()
        let router = InMemoryRouter()
        let policy = Policy(uploadCredits: 2, uploadChunkBytes: 1_000)
        let broker = try Broker(transport: router, dataDirectory: try makeDataDirectory(self), policy: policy, clock: clock)
        let client = router.connect(routingId: Data("client".utf8))
        let worker = router.connect(routingId: Data([0xAB, 0x01]))

        let input = makeInput(count: 100, lineBytes: 40)  // 4,100 bytes: 5 chunks of ≤ 1,000
        try client.send(.submitBegin(SubmitBegin(name: "loop", spec: Data(#"{"task":"noop","shard_size":30}"#.utf8))))
        broker.poll(timeoutMs: 0)
        guard case .submitReady(let ready) = try receive(client) else { return XCTFail("expected submitReady") }
        XCTAssertEqual(ready.credits, 2)
        XCTAssertEqual(ready.maxChunkBytes, 1_000)
        var sequence: UInt64 = 0
        for start in stride(from: 0, to: input.count, by: 1_000) {
            let chunk = input.subdata(in: start..<min(input.count, start + 1_000))
            try client.send(.submitChunk(SubmitChunk(uploadId: ready.uploadId, sequence: sequence, bytes: chunk)))
            broker.poll(timeoutMs: 0)
            XCTAssertEqual(try receive(client), .submitAck(SubmitAck(uploadId: ready.uploadId, sequence: sequence, credits: 1)))
            sequence += 1
        }
        try client.send(.submitEnd(SubmitEnd(uploadId: ready.uploadId, chunkCount: sequence, totalBytes: UInt64(input.count))))
        broker.poll(timeoutMs: 0)
        XCTAssertEqual(try receive(client), .submitted(Submitted(jobId: "j000001", documentCount: 100, shardCount: 4)))

        try worker.send(.hello(Hello(workerName: "box-1", threads: 2)))
        broker.poll(timeoutMs: 0)
        XCTAssertEqual(try receive(worker), .welcome(Welcome(coordinatorName: "dojo-coordinator", heartbeatIntervalMs: 1_000,
                                                             heartbeatLiveness: 3, maxMessageBytes: broker.maxMessageBytes)))
        var outputs: [String] = []
        try worker.send(.ready(credits: 1))
        broker.poll(timeoutMs: 0)
        var heartbeats = 0
        for expectedShard: UInt32 in 0..<4 {
            var next = try receive(worker)
            while next == .heartbeat { heartbeats += 1; next = try receive(worker) }
            guard case .assign(let a) = next else { return XCTFail("expected an assignment") }
            XCTAssertEqual(a.shardId, expectedShard)
            XCTAssertEqual(a.taskSpec, Data(#"{"task":"noop","shard_size":30}"#.utf8))
            let docs = try LZ4Frame.decompress(a.documents, maxOutputBytes: 1 << 20)
            XCTAssertEqual(a.documentCount, expectedShard < 3 ? 30 : 10)
            XCTAssertEqual(docs.count, Int(a.documentCount) * 41)
            let lines = String(decoding: docs, as: UTF8.self).split(separator: "\n").map { "\($0.prefix(12))}" }
            outputs += lines
            let body = Data(lines.map { $0 + "\n" }.joined().utf8)
            clock.advance(byMs: 400)
            try worker.send(.result(ShardResult(jobId: a.jobId, shardId: a.shardId, attemptId: a.attemptId,
                                                documentCount: a.documentCount, errorCount: 0, tokenCount: 7,
                                                rawBytes: UInt64(body.count), frame: try LZ4Frame.compress(body))))
            try worker.send(.ready(credits: 1))
            broker.poll(timeoutMs: 0)
        }
        while let frames = try worker.receive(timeoutMs: 0) {
            XCTAssertEqual(try Message.decode(frames: frames), .heartbeat)
            heartbeats += 1
        }
        // 1,600 ms on the manual clock, the loop ticking every half interval (at 0, 800, 1,600):
        // one coordinator heartbeat, due at 1,000, sent at the 1,600 tick.
        XCTAssertEqual(heartbeats, 1)
        XCTAssertEqual(outputs.first, #"{"id":"d1","}"#)

        try client.send(.status(jobId: "j000001"))
        broker.poll(timeoutMs: 0)
        guard case .statusReply(let json) = try receive(client) else { return XCTFail("expected statusReply") }
        let status = try JSONDecoder().decode(StatusDocument.self, from: json).jobs[0]
        XCTAssertEqual(status.state, "completed")
        XCTAssertEqual([status.documentsTotal, status.documentsDone, status.documentErrors, status.tokens], [100, 100, 0, 28])
        XCTAssertEqual([status.shardsTotal, status.shardsDone], [4, 4])

        var merged: [String] = []
        for index: UInt32 in 0..<5 {
            try client.send(.results(jobId: "j000001", shardIndex: index))
            broker.poll(timeoutMs: 0)
            guard case .resultsReply(let r) = try receive(client) else { return XCTFail("expected resultsReply") }
            XCTAssertEqual(r.shardCount, 4)
            if index == 4 { XCTAssertEqual(r.state, .noSuchShard); break }
            XCTAssertEqual(r.state, .done)
            merged += String(decoding: try LZ4Frame.decompress(r.frame, maxOutputBytes: 1 << 20), as: UTF8.self)
                .split(separator: "\n").map(String.init)
        }
        XCTAssertEqual(merged, outputs)
        XCTAssertEqual(merged.count, 100)

        try client.send(.workers)
        broker.poll(timeoutMs: 0)
        guard case .workersReply(let wjson) = try receive(client) else { return XCTFail("expected workersReply") }
        let workers = try JSONDecoder().decode(WorkersDocument.self, from: wjson).workers
        XCTAssertEqual(workers.map(\.identity), ["ab01"])
        XCTAssertEqual(workers.map(\.shardsDone), [4])
        XCTAssertEqual(workers.map(\.credits), [1])
    }

    /// The CLI's client against a broker loop on its own thread, with a worker on another: submit
    /// streams a file with flow control; status, results, cancel and workers answer.
    func testClientAgainstALiveLoop() throws {
        let dir = try makeDataDirectory(self)
        let router = InMemoryRouter()
        let policy = Policy(heartbeatIntervalMs: 50, uploadCredits: 2, uploadChunkBytes: 4_096)
        let broker = try Broker(transport: router, dataDirectory: dir, policy: policy)
        let stop = StopFlag()
        let loop = Thread { broker.run(until: { stop.isSet }) }
        loop.start()
        let workerDealer = router.connect(routingId: Data("worker".utf8))
        let worker = Thread {
            do {
                try workerDealer.send(.hello(Hello(workerName: "echo", threads: 1)))
                try workerDealer.send(.ready(credits: 2))
                while !stop.isSet {
                    guard let frames = try workerDealer.receive(timeoutMs: 20) else { continue }
                    guard case .assign(let a) = try Message.decode(frames: frames) else { continue }
                    let docs = try LZ4Frame.decompress(a.documents, maxOutputBytes: 1 << 24)
                    try workerDealer.send(.result(ShardResult(jobId: a.jobId, shardId: a.shardId, attemptId: a.attemptId,
                                                              documentCount: a.documentCount, errorCount: 0, tokenCount: 0,
                                                              rawBytes: UInt64(docs.count), frame: try LZ4Frame.compress(docs))))
                    try workerDealer.send(.ready(credits: 1))
                }
            } catch { XCTFail("worker: \(error)") }
        }
        worker.start()
        defer { stop.set(); while loop.isExecuting || worker.isExecuting { usleep(1_000) } }

        let inputURL = dir.appendingPathComponent("input.jsonl")
        let input = makeInput(count: 1_000, lineBytes: 60)
        try input.write(to: inputURL)
        let client = CoordinatorClient(transport: router.connect(routingId: Data("cli".utf8)), timeoutMs: 5_000)
        var progress: [UInt64] = []
        let submitted = try client.submit(spec: Data(#"{"task":"echo","shard_size":100}"#.utf8), name: "echo-job",
                                          input: inputURL, progress: { progress.append($0) })
        XCTAssertEqual(submitted, Submitted(jobId: "j000001", documentCount: 1_000, shardCount: 10))
        XCTAssertEqual(progress.count, 15)  // 61,000 bytes in chunks of 4,096
        XCTAssertEqual(progress.last, 61_000)

        var status = try client.status(jobId: submitted.jobId)[0]
        let deadline = Date().addingTimeInterval(10)
        while status.state != "completed" && Date() < deadline {
            usleep(10_000)
            status = try client.status(jobId: submitted.jobId)[0]
        }
        XCTAssertEqual(status.state, "completed")
        XCTAssertEqual(status.name, "echo-job")
        XCTAssertEqual(status.documentsDone, 1_000)

        var output = Data()
        let summary = try client.results(jobId: submitted.jobId) { output += $0 }
        XCTAssertEqual(summary, ResultsSummary(shards: 10, pending: 0, bytes: 61_000))
        XCTAssertEqual(output, input)
        XCTAssertFalse(try client.cancel(jobId: submitted.jobId))
        XCTAssertThrowsError(try client.cancel(jobId: "nope")) {
            XCTAssertEqual($0 as? CoordinatorClientError, .refused(code: .unknownJob, message: "no job nope"))
        }
        XCTAssertEqual(try client.workers().map(\.name), ["echo"])
    }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
