import Coordinator
import Foundation
import Wire
import XCTest

/// Group commit: results that arrive together are written, fsynced and marked done together, and
/// a result counts as done only once its group's transaction commits.
final class GroupCommitTests: XCTestCase {
    /// Staged results are not done (shards leased, no counts) until the group commits; then all
    /// are done at once, in one go, and the job finishes on the group's last shard.
    func testStagedResultsAreDoneOnlyWhenTheirGroupCommits() throws {
        let h = try SchedulerHarness(self)
        let job = try h.submit(makeInput(count: 40), spec: JobSpec(task: "noop", shardSize: 10))
        let leases = try h.join("w1", credits: 4, nowMs: 0).leases.map(\.lease)
        XCTAssertEqual(leases.map(\.shardIndex), [0, 1, 2, 3])
        for lease in leases {
            XCTAssertNil(try h.scheduler.stageResult("w1", try h.result(for: lease), nowMs: 100))
        }
        XCTAssertEqual(h.scheduler.stagedResultCount, 4)
        XCTAssertEqual(try h.store.shards(jobId: job.id).map(\.state), [.leased, .leased, .leased, .leased])
        XCTAssertEqual(try h.store.job(job.id)?.documentsDone, 0)
        XCTAssertEqual(try h.store.counter("shards_done"), 0)

        let (dispositions, _) = try h.scheduler.commitResults(nowMs: 200)
        XCTAssertEqual(dispositions, [.written(jobFinished: false), .written(jobFinished: false),
                                      .written(jobFinished: false), .written(jobFinished: true)])
        XCTAssertEqual(h.scheduler.stagedResultCount, 0)
        XCTAssertEqual(try h.store.shards(jobId: job.id).map(\.state), [.done, .done, .done, .done])
        let done = try XCTUnwrap(h.store.job(job.id))
        XCTAssertEqual(done.state, .completed)
        XCTAssertEqual([done.documentsDone, done.documentErrors], [40, 0])
        XCTAssertEqual(try h.store.counter("shards_done"), 4)
        XCTAssertEqual(try h.outputFiles(job.id), ["0.jsonl.lz4", "1.jsonl.lz4", "2.jsonl.lz4", "3.jsonl.lz4"])
        XCTAssertEqual(try h.mergedLines(job.id), (1...40).map { #"{"id":"d\#($0)","ok":true}"# })
    }

    /// Two results for one shard in the same group (a straggler copy finishing alongside the
    /// original): the first staged wins, the other is dropped, the shard is counted once.
    func testTwoResultsOfOneShardInOneGroupCountOnce() throws {
        let h = try SchedulerHarness(self, policy: Policy(stragglerMinAgeMs: 1_000))
        let job = try h.submit(makeInput(count: 10), spec: JobSpec(task: "noop", shardSize: 10))
        let original = try XCTUnwrap(try h.join("w1", nowMs: 0).leases.first?.lease)
        _ = try h.scheduler.hello("w2", info: WorkerInfo(identity: "w2", name: "w2", threads: 1), nowMs: 0)
        try h.scheduler.heartbeat("w1", stats: WorkerStats(documentsPerSecond: 0, tokensPerSecond: 0,
                                                           activeAttemptIds: [original.attemptId]), nowMs: 1_000)
        let copy = try XCTUnwrap(try h.scheduler.ready("w2", credits: 1, nowMs: 1_000).leases.first?.lease)
        XCTAssertTrue(copy.straggler)
        XCTAssertNil(try h.scheduler.stageResult("w2", try h.result(for: copy, tag: "copy"), nowMs: 1_100))
        XCTAssertNil(try h.scheduler.stageResult("w1", try h.result(for: original, tag: "orig"), nowMs: 1_100))
        let (dispositions, _) = try h.scheduler.commitResults(nowMs: 1_200)
        XCTAssertEqual(dispositions, [.written(jobFinished: true), .dropped(reason: "another result of shard 0 came first")])
        XCTAssertEqual(try h.store.attempt(copy.attemptId)?.state, .succeeded)
        XCTAssertEqual(try h.store.attempt(original.attemptId)?.state, .lost)
        XCTAssertEqual(try h.store.job(job.id)?.documentsDone, 10)
        XCTAssertEqual(try h.store.counter("shards_done"), 1)
        XCTAssertEqual(try h.mergedLines(job.id).first, #"{"id":"d1","copy":true}"#)
    }

    /// The coordinator dies after a group's files are written and fsynced but before its
    /// transaction: on restart the shards are leased no more but queued, nothing is counted, the
    /// shards are computed again, and the output has every document exactly once.
    func testCrashBetweenFilesAndCommitLosesNothingAndDuplicatesNothing() throws {
        let h = try SchedulerHarness(self)
        let job = try h.submit(makeInput(count: 30), spec: JobSpec(task: "noop", shardSize: 10))
        let leases = try h.join("w1", credits: 3, nowMs: 0).leases.map(\.lease)
        XCTAssertEqual(leases.count, 3)
        try h.output.writeOutputs(try leases.map { try h.result(for: $0, tag: "before") })
        XCTAssertEqual(try h.outputFiles(job.id), ["0.jsonl.lz4", "1.jsonl.lz4", "2.jsonl.lz4"])

        // Restart: a new store, output writer and scheduler on the same directory.
        let store = try JobStore(directory: h.dir, nowMs: 5_000)
        XCTAssertEqual(store.recovery, RecoveryReport(requeuedShards: 3, failedUploads: [], resumedJobs: [job.id]))
        XCTAssertEqual(try store.shards(jobId: job.id).map(\.state), [.queued, .queued, .queued])
        XCTAssertEqual(try store.job(job.id)?.documentsDone, 0)
        let output = OutputWriter(store: store, paths: h.paths)
        let scheduler = Scheduler(store: store, paths: h.paths, output: output, policy: Policy())
        _ = try scheduler.hello("w2", info: WorkerInfo(identity: "w2", name: "w2", threads: 1), nowMs: 5_000)
        let redo = try scheduler.ready("w2", credits: 3, nowMs: 5_000).leases.map(\.lease)
        XCTAssertEqual(redo.map(\.shardIndex), [0, 1, 2])
        for lease in redo { XCTAssertNil(try scheduler.stageResult("w2", try h.result(for: lease, tag: "after"), nowMs: 5_100)) }
        // A result of the attempt that died with the old coordinator arrives late: dropped.
        XCTAssertEqual(try output.accept(try h.result(for: leases[0], tag: "late"), nowMs: 5_150),
                       .dropped(reason: "attempt \(leases[0].attemptId) is abandoned"))
        XCTAssertEqual(try scheduler.commitResults(nowMs: 5_200).0,
                       [.written(jobFinished: false), .written(jobFinished: false), .written(jobFinished: true)])

        var merged = Data()
        try output.merge(jobId: job.id) { merged += $0 }
        let lines = String(decoding: merged, as: UTF8.self).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines, (1...30).map { #"{"id":"d\#($0)","after":true}"# })
        let done = try XCTUnwrap(store.job(job.id))
        XCTAssertEqual(done.state, .completed)
        XCTAssertEqual([done.documentsTotal, done.documentsDone], [30, 30])
        XCTAssertEqual(try store.counter("shards_done"), 3)
        XCTAssertEqual(try h.outputFiles(job.id), ["0.jsonl.lz4", "1.jsonl.lz4", "2.jsonl.lz4"], "no temp files left")
    }

    /// A group whose files cannot be written is not committed: its attempts are abandoned and
    /// the shards queued again for another try.
    func testGroupThatCannotBeWrittenIsRequeued() throws {
        let h = try SchedulerHarness(self)
        let job = try h.submit(makeInput(count: 20), spec: JobSpec(task: "noop", shardSize: 10))
        let leases = try h.join("w1", credits: 2, nowMs: 0).leases.map(\.lease)
        for lease in leases { XCTAssertNil(try h.scheduler.stageResult("w1", try h.result(for: lease), nowMs: 10)) }
        // A plain file where the output directory should be: every write in the group fails.
        let outputDir = h.paths.outputDirectory(job.id)
        try FileManager.default.removeItem(at: outputDir)
        XCTAssertTrue(FileManager.default.createFile(atPath: outputDir.path, contents: Data("x".utf8)))
        XCTAssertThrowsError(try h.scheduler.commitResults(nowMs: 20))
        XCTAssertEqual(h.scheduler.stagedResultCount, 0)
        XCTAssertEqual(try h.store.shards(jobId: job.id).map(\.state), [.queued, .queued])
        XCTAssertEqual(try leases.map { try h.store.attempt($0.attemptId)?.state }, [.abandoned, .abandoned])
        XCTAssertEqual(try h.store.job(job.id)?.documentsDone, 0)
    }
}
