import Foundation
import TestSupport
import XCTest

/// `dojo top`, `dojo status` and the log options against real coordinator and worker processes.
final class TopAndLoggingTests: XCTestCase {
    var cluster: ClusterHarness!

    override func setUp() { cluster = ClusterHarness(name) }
    override func tearDown() {
        cluster.stopAll()
        if testRun?.failureCount == 0 { try? FileManager.default.removeItem(at: cluster.directory) }
    }

    /// Submits `count` no-op documents in shards of 50 and waits for the job; returns its id.
    func runJob(_ count: Int) throws -> String {
        let spec = cluster.directory.appendingPathComponent("noop.yaml")
        try "task: noop\nshard_size: 50\n".write(to: spec, atomically: true, encoding: .utf8)
        let input = cluster.directory.appendingPathComponent("input.jsonl")
        let lines = (0..<count).map { #"{"id":"d\#($0)","text":"SECRET-TEXT-\#($0) of the document"}"# }
        try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
        let r = try cluster.dojo(["submit", spec.path, "--input", input.path, "--wait"])
        XCTAssertEqual(r.status, 0, "submit: \(r.stderr)\n\(cluster.log("coordinator"))")
        return r.lines.first ?? ""
    }

    func testTopPrintsPlainFramesWithTheJobItsProgressAndTheWorker() throws {
        try cluster.startCoordinator()
        try cluster.startWorker("top-worker")
        let job = try runJob(200)
        let r = try cluster.dojo(["top", "--iterations", "2", "--interval", "0.2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdoutText.contains("\u{1B}"), "no terminal escapes when stdout is a pipe")
        let frames = r.stdoutText.trimmingCharacters(in: .newlines).components(separatedBy: "\n\n")
        XCTAssertEqual(frames.count, 2, r.stdoutText)
        for frame in frames {
            let lines = frame.split(separator: "\n").map(String.init)
            XCTAssertTrue(lines.first?.hasPrefix("dojo top · ipc://") ?? false, frame)
            XCTAssertEqual(lines.dropFirst().first, "jobs: 0 running, 0 queued, 1 finished · workers: 1 connected (0 busy), 0 lost")
            let jobLine = try XCTUnwrap(lines.first { $0.hasPrefix(job + " ") }, frame)
            XCTAssertTrue(jobLine.contains(" completed "), jobLine)
            XCTAssertTrue(jobLine.contains(" 100% "), jobLine)
            XCTAssertTrue(jobLine.contains(" 200/200 docs "), jobLine)
            let workerLine = try XCTUnwrap(lines.first { $0.hasPrefix("top-worker ") }, frame)
            XCTAssertTrue(workerLine.contains(" connected  idle "), workerLine)
        }

        // --job shows that job only, and an unknown one is an error that says so.
        let one = try cluster.dojo(["top", "--iterations", "1", "--job", job])
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertTrue(one.stdoutText.contains(" 200/200 docs "), one.stdoutText)
        let unknown = try cluster.dojo(["top", "--iterations", "1", "--job", "j999999"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("no job j999999"), unknown.stderr)

        // dojo status renders the same row, under the same header.
        let status = try cluster.dojo(["status", job])
        XCTAssertEqual(status.status, 0, status.stderr)
        XCTAssertEqual(status.lines.count, 2, status.stdoutText)
        XCTAssertTrue(status.lines[0].hasPrefix("JOB "), status.stdoutText)
        XCTAssertTrue(status.lines[1].hasPrefix(job + " ") && status.lines[1].contains(" completed ")
                      && status.lines[1].contains(" 200/200 docs "), status.stdoutText)
    }

    /// Every line of a process's log as a JSON object.
    func jsonLines(_ name: String) throws -> [[String: Any]] {
        let log = cluster.log(name)
        return try log.split(separator: "\n").map { line in
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not JSON: \(line)")
            XCTAssertEqual(Set(object.keys), ["ts", "level", "label", "message", "metadata"], String(line))
            return object
        }
    }

    func metadata(_ lines: [[String: Any]], _ message: String) -> [[String: String]] {
        lines.filter { $0["message"] as? String == message }.map { $0["metadata"] as? [String: String] ?? [:] }
    }

    func testJSONLogsNameTheJobShardAndWorkerAndNeverTheDocuments() throws {
        let json = ["--log-format", "json", "--log-level", "debug"]
        try cluster.startCoordinator(["--heartbeat-ms", "200"] + json)
        try cluster.startWorker("log-worker", json)
        let job = try runJob(100)
        cluster.stopAll()

        let coordinator = try jsonLines("coordinator")
        XCTAssertEqual(metadata(coordinator, "job submitted").first?["job"], job)
        XCTAssertEqual(metadata(coordinator, "worker joined").first?["worker"], "log-worker")
        let assigned = metadata(coordinator, "shard assigned")
        XCTAssertEqual(Set(assigned.map { $0["shard"] ?? "" }), ["0", "1"])
        XCTAssertEqual(Set(assigned.map { $0["job"] ?? "" }), [job])
        XCTAssertEqual(Set(assigned.map { $0["worker"] ?? "" }), ["log-worker"])
        XCTAssertEqual(Set(metadata(coordinator, "job completed").map { $0["job"] ?? "" }), [job])

        let worker = try jsonLines("log-worker")
        let done = metadata(worker, "shard done")
        XCTAssertEqual(Set(done.map { $0["shard"] ?? "" }), ["0", "1"])
        XCTAssertEqual(Set(done.map { $0["job"] ?? "" }), [job])
        XCTAssertEqual(Set(done.map { $0["worker"] ?? "" }), ["log-worker"])

        XCTAssertFalse(cluster.log("coordinator").contains("SECRET-TEXT"), "document text in the coordinator's log")
        XCTAssertFalse(cluster.log("log-worker").contains("SECRET-TEXT"), "document text in the worker's log")
    }

    func testLogLevelErrorKeepsInfoLinesOut() throws {
        // A request answered means the coordinator is up and past its start-up lines.
        try cluster.startCoordinator(["--log-level", "error"])
        XCTAssertEqual(try cluster.dojo(["workers"]).stdoutText, "no workers connected\n")
        cluster.stopAll()
        XCTAssertEqual(cluster.log("coordinator"), "")
        // The same start at the default level says where it listens, as text.
        try cluster.startCoordinator([])
        XCTAssertEqual(try cluster.dojo(["workers"]).stdoutText, "no workers connected\n")
        cluster.stopAll()
        let lines = cluster.log("coordinator").split(separator: "\n")
        let listening = try XCTUnwrap(lines.first { $0.contains(" info dojo.coordinator: coordinator listening ") }, "\(lines)")
        XCTAssertTrue(listening.contains(" endpoint=ipc://"), String(listening))
    }
}
