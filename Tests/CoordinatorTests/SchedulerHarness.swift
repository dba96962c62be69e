import Coordinator
import Foundation
import Wire
import XCTest

/// A store, spool paths, output writer and scheduler in a fresh data directory.
final class SchedulerHarness {
    let dir: URL
    let paths: JobPaths
    let store: JobStore
    let output: OutputWriter
    let scheduler: Scheduler

    init(_ test: XCTestCase, policy: Policy = Policy(), name: String = #function) throws {
        dir = try makeDataDirectory(test, name)
        paths = JobPaths(dataDirectory: dir)
        store = try JobStore(directory: dir, nowMs: 0)
        output = OutputWriter(store: store, paths: paths)
        scheduler = Scheduler(store: store, paths: paths, output: output, policy: policy)
    }

    /// Spools `input` as a new job and completes its upload.
    @discardableResult
    func submit(_ input: Data, spec: JobSpec = JobSpec(task: "noop"), nowMs: UInt64 = 0) throws -> JobRecord {
        let job = try store.createJob(name: "test", spec: spec, specData: Data(#"{"task":"noop"}"#.utf8), nowMs: nowMs)
        let (cuts, docs) = try spool(input, paths: paths, jobId: job.id, shardSize: spec.shardSize, shardTokens: spec.shardTokens)
        try store.appendShards(jobId: job.id, cuts: cuts)
        return try store.completeInput(jobId: job.id, documents: docs, inputBytes: UInt64(input.count), nowMs: nowMs)
    }

    func join(_ worker: String, credits: UInt32 = 1, nowMs: UInt64 = 0) throws -> [SchedulerAction] {
        _ = try scheduler.hello(worker, info: WorkerInfo(identity: worker, name: worker, threads: 1), nowMs: nowMs)
        return try scheduler.ready(worker, credits: credits, nowMs: nowMs)
    }

    /// The documents a lease carries.
    func documents(of lease: Lease) throws -> [SpooledDocument] {
        ShardReader.documents(in: try ShardReader.read(lease.cut, jobId: lease.jobId, paths: paths), cut: lease.cut)
    }

    /// What a no-op worker returns for a lease: `{"id":…,"ok":true}` per document.
    func result(for lease: Lease, tag: String = "ok") throws -> ShardResult {
        var lines = Data()
        for doc in try documents(of: lease) {
            let object = try JSONSerialization.jsonObject(with: doc.bytes) as! [String: Any]
            lines += Data("{\"id\":\"\(object["id"] as! String)\",\"\(tag)\":true}\n".utf8)
        }
        return ShardResult(jobId: lease.jobId, shardId: lease.shardIndex, attemptId: lease.attemptId,
                           documentCount: UInt32(lease.cut.documentCount), errorCount: 0,
                           tokenCount: lease.cut.approxTokens, rawBytes: UInt64(lines.count),
                           frame: try LZ4Frame.compress(lines))
    }

    /// The job's merged output lines, in input order.
    func mergedLines(_ jobId: String) throws -> [String] {
        var all = Data()
        try output.merge(jobId: jobId) { all += $0 }
        return String(decoding: all, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    func outputFiles(_ jobId: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: paths.outputDirectory(jobId).path).sorted()
    }
}

extension Array where Element == SchedulerAction {
    var leases: [(worker: String, lease: Lease)] {
        compactMap { if case .assign(let w, let l) = $0 { return (w, l) } else { return nil } }
    }
}
