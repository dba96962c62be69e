import Foundation
import TestSupport
import XCTest

/// The runbook's backup and restore (ops/README.md), done as an operator does it: `ops/backup`
/// while a job runs, then a fresh coordinator on the restored copy finishes the job.
final class BackupRestoreTests: XCTestCase {
    var original: ClusterHarness!
    var restored: ClusterHarness!

    override func setUp() {
        original = ClusterHarness("backup")
        restored = ClusterHarness("restore")
    }

    override func tearDown() {
        original.stopAll()
        restored.stopAll()
        if testRun?.failureCount == 0 {
            try? FileManager.default.removeItem(at: original.directory)
            try? FileManager.default.removeItem(at: restored.directory)
        }
    }

    func status(_ cluster: ClusterHarness, _ job: String) throws -> [String: Any] {
        let r = try cluster.dojo(["status", job, "--json"])
        return ((try? JSONSerialization.jsonObject(with: r.stdout)) as? [[String: Any]])?.first ?? [:]
    }

    func backup(_ data: URL, to dest: URL) throws -> ProcessRunner.Output {
        try ProcessRunner.run(TestPaths.packageRoot.appendingPathComponent("ops/backup"), [data.path, dest.path], timeout: 120)
    }

    func testBackupTakenMidJobRestoresAndTheJobCompletesExactlyOnce() throws {
        try original.startCoordinator()
        try original.startWorker("w1")
        let spec = original.directory.appendingPathComponent("spec.yaml")
        try "task: test-crash\nparams: {delay_ms: 10}\nshard_size: 40\n".write(to: spec, atomically: true, encoding: .utf8)
        let input = original.directory.appendingPathComponent("input.jsonl")
        let ids = (0..<800).map { "d\($0)" }
        try (ids.map { #"{"id":"\#($0)","text":"document \#($0)"}"# }.joined(separator: "\n") + "\n")
            .write(to: input, atomically: true, encoding: .utf8)
        let submitted = try original.dojo(["submit", spec.path, "--input", input.path])
        XCTAssertEqual(submitted.status, 0, submitted.stderr)
        let job = submitted.lines.first ?? ""
        try original.waitUntil(timeout: 120) { (try self.status(self.original, job)["shards_done"] as? Int ?? 0) >= 3 }

        // The backup runs beside the live coordinator, which keeps writing.
        let dest = original.directory.appendingPathComponent("backup")
        let result = try backup(original.dataDirectory, to: dest)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("(jobs: 1 running)"), result.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dest.appendingPathComponent("jobs/\(job)/input.jsonl").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest.path + ".partial"))
        // A second backup to the same place is refused rather than mixed in.
        XCTAssertNotEqual(try backup(original.dataDirectory, to: dest).status, 0)

        // The machine is lost: restore the copy as the data directory of a new coordinator.
        original.stopAll()
        try FileManager.default.copyItem(at: dest, to: restored.dataDirectory)
        try restored.startCoordinator()
        try restored.startWorker("w2")
        try restored.waitUntil(timeout: 180) { (try self.status(self.restored, job)["state"] as? String) == "completed" }
        let merged = try restored.dojo(["results", job])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        let got = merged.lines.compactMap { ((try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any])?["id"] as? String }
        XCTAssertEqual(got, ids, "every document once, in input order")
    }

    func testBackupRefusesADirectoryWithoutAStore() throws {
        let empty = original.directory.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let result = try backup(empty, to: original.directory.appendingPathComponent("out"))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("dojo.sqlite not found"), result.stderr)
    }
}
