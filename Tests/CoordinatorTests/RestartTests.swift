import Coordinator
import Foundation
import Wire
import XCTest

final class RestartTests: XCTestCase {
    /// The coordinator dies in mid-job and a new one opens the same data directory: the shard
    /// finished before is not computed again, the one in flight is requeued, the old attempt's
    /// late result is refused, and the job completes with one output per shard.
    func testCoordinatorRestartResumesWithoutRedoingFinishedShards() throws {
        let dir = try makeDataDirectory(self)
        let router = InMemoryRouter()
        let clock = ManualClock()
        let client = router.connect(routingId: Data("client".utf8))
        let worker = router.connect(routingId: Data("w".utf8))
        func receive(_ d: InMemoryDealer) throws -> Message { try Message.decode(frames: try XCTUnwrap(d.receive(timeoutMs: 0))) }
        func result(for a: Assignment) throws -> Message {
            let docs = try LZ4Frame.decompress(a.documents, maxOutputBytes: 1 << 20)
            return .result(ShardResult(jobId: a.jobId, shardId: a.shardId, attemptId: a.attemptId, documentCount: a.documentCount,
                                       errorCount: 0, tokenCount: 0, rawBytes: UInt64(docs.count), frame: try LZ4Frame.compress(docs)))
        }

        var heldBeforeCrash: Assignment?
        do {
            let broker = try Broker(transport: router, dataDirectory: dir, clock: clock)
            try client.send(.submitBegin(SubmitBegin(name: "r", spec: Data(#"{"task":"echo","shard_size":5}"#.utf8))))
            broker.poll(timeoutMs: 0)
            guard case .submitReady(let ready) = try receive(client) else { return XCTFail("expected submitReady") }
            let input = makeInput(count: 10)
            try client.send(.submitChunk(SubmitChunk(uploadId: ready.uploadId, sequence: 0, bytes: input)))
            try client.send(.submitEnd(SubmitEnd(uploadId: ready.uploadId, chunkCount: 1, totalBytes: UInt64(input.count))))
            broker.poll(timeoutMs: 0)
            _ = try receive(client)
            XCTAssertEqual(try receive(client), .submitted(Submitted(jobId: "j000001", documentCount: 10, shardCount: 2)))
            try worker.send(.hello(Hello(workerName: "w", threads: 1)))
            try worker.send(.ready(credits: 2))
            broker.poll(timeoutMs: 0)
            _ = try receive(worker)  // welcome
            guard case .assign(let a0) = try receive(worker), case .assign(let a1) = try receive(worker) else {
                return XCTFail("expected two assignments")
            }
            try worker.send(try result(for: a0))
            broker.poll(timeoutMs: 0)
            heldBeforeCrash = a1
        }  // the coordinator process is gone; shard 1 was in flight

        let broker = try Broker(transport: router, dataDirectory: dir, clock: clock)
        XCTAssertEqual(broker.store.recovery, RecoveryReport(requeuedShards: 1, failedUploads: [], resumedJobs: ["j000001"]))
        // The worker's late result for its old lease: the new coordinator does not know it.
        try worker.send(try result(for: XCTUnwrap(heldBeforeCrash)))
        broker.poll(timeoutMs: 0)
        XCTAssertEqual(try receive(worker), .error(ErrorReply(code: .unexpectedMessage, message: "unknown worker: send hello first")))
        try worker.send(.hello(Hello(workerName: "w", threads: 1)))
        try worker.send(.ready(credits: 2))
        broker.poll(timeoutMs: 0)
        _ = try receive(worker)  // welcome
        guard case .assign(let again) = try receive(worker) else { return XCTFail("expected shard 1 again") }
        XCTAssertEqual(again.shardId, 1)
        XCTAssertEqual(again.attemptId, 3)
        XCTAssertNil(try worker.receive(timeoutMs: 0), "shard 0 finished before the crash and is not issued again")
        try worker.send(try result(for: again))
        broker.poll(timeoutMs: 0)

        let job = try XCTUnwrap(broker.store.job("j000001"))
        XCTAssertEqual(job.state, .completed)
        XCTAssertEqual(job.documentsDone, 10)
        XCTAssertEqual(try broker.store.attempts(jobId: "j000001").map { "\($0.shardIndex):\($0.state.rawValue)" },
                       ["0:succeeded", "1:abandoned", "1:succeeded"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: broker.paths.outputDirectory("j000001").path).sorted(),
                       ["0.jsonl.lz4", "1.jsonl.lz4"])
        var merged = Data()
        try broker.output.merge(jobId: "j000001") { merged += $0 }
        XCTAssertEqual(merged, makeInput(count: 10))
    }
}
