import Foundation
import TestSupport
import XCTest

/// The distributed core as users run it: real coordinator and worker processes over ZeroMQ,
/// real SQLite, killed with SIGKILL in mid-job.
final class ClusterTests: XCTestCase {
    var cluster: ClusterHarness!

    override func setUp() { cluster = ClusterHarness(name) }
    override func tearDown() {
        cluster.stopAll()
        if testRun?.failureCount == 0 { try? FileManager.default.removeItem(at: cluster.directory) }
    }

    func writeSpec(_ yaml: String) throws -> String {
        let url = cluster.directory.appendingPathComponent("spec-\(UUID().uuidString).yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func writeInput(_ lines: [String]) throws -> String {
        let url = cluster.directory.appendingPathComponent("input-\(UUID().uuidString).jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func documents(_ count: Int, marker: Int? = nil) -> [String] {
        (0..<count).map { i in #"{"id":"d\#(i)","text":"document \#(i)\#(i == marker ? " CRASH" : "")"}"# }
    }

    func submit(_ spec: String, _ input: String, wait: Bool = false) throws -> String {
        let r = try cluster.dojo(["submit", spec, "--input", input] + (wait ? ["--wait"] : []))
        XCTAssertEqual(r.status, 0, "submit: \(r.stderr)\n\(cluster.log("coordinator"))")
        return r.lines.first ?? ""
    }

    func status(_ job: String) throws -> [String: Any] {
        let r = try cluster.dojo(["status", job, "--json"])
        let list = (try? JSONSerialization.jsonObject(with: r.stdout)) as? [[String: Any]]
        return list?.first ?? [:]
    }

    func results(_ job: String) throws -> [[String: Any]] {
        let r = try cluster.dojo(["results", job])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.lines.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] }
    }

    func assertExactlyOnce(_ records: [[String: Any]], ids expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        let ids = records.compactMap { $0["id"] as? String }
        XCTAssertEqual(ids.count, expected.count, "records", file: file, line: line)
        XCTAssertEqual(Set(ids).count, ids.count, "duplicates", file: file, line: line)
        XCTAssertEqual(ids, expected, "input order", file: file, line: line)
    }

    func testTwoWorkersFiveThousandDocumentsExactlyOnceWithBadLinesAsErrorRecords() throws {
        try cluster.startCoordinator()
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        var lines = documents(5_000)
        lines.insert("this line is not JSON", at: 1234)
        lines.insert(#"{"id":"no-text","body":"x"}"#, at: 4321)
        let spec = try writeSpec("task: noop\nshard_size: 100\n")
        let job = try submit(spec, try writeInput(lines), wait: true)
        let records = try results(job)
        XCTAssertEqual(records.count, 5_002)
        XCTAssertEqual(records[1234]["line"] as? Int, 1235)
        XCTAssertNotNil(records[1234]["error"])
        XCTAssertEqual(records[4321]["id"] as? String, "no-text")
        XCTAssertNotNil(records[4321]["error"])
        let good = records.enumerated().filter { $0.offset != 1234 && $0.offset != 4321 }.map(\.element)
        assertExactlyOnce(good, ids: (0..<5_000).map { "d\($0)" })
        let s = try status(job)
        XCTAssertEqual(s["state"] as? String, "completed")
        XCTAssertEqual(s["documents_done"] as? Int, 5_002)
        XCTAssertEqual(s["document_errors"] as? Int, 2)
        // Both workers took part.
        let workers = try cluster.dojo(["workers", "--json"])
        let done = ((try? JSONSerialization.jsonObject(with: workers.stdout)) as? [[String: Any]] ?? []).map { $0["shards_done"] as? Int ?? 0 }
        XCTAssertEqual(done.count, 2)
        XCTAssertEqual(done.reduce(0, +), 51)
        // The raw frames are LZ4 frames the lz4 tool reads.
        let raw = try cluster.dojo(["results", job, "--raw"])
        let lz4 = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/lz4"), ["-dc"], input: raw.stdout)
        XCTAssertEqual(lz4.lines.count, 5_002)
    }

    func testKilledWorkerInMidShardLosesNothingAndDuplicatesNothing() throws {
        try cluster.startCoordinator()
        let doomed = try cluster.startWorker("doomed")
        let spec = try writeSpec("task: test-crash\nparams: {delay_ms: 20}\nshard_size: 50\n")
        let job = try submit(spec, try writeInput(documents(400)))
        // Let the doomed worker get in the middle of a shard, then kill it without warning.
        try cluster.waitUntil(timeout: 60) { (try self.status(job)["state"] as? String) == "running" }
        usleep(500_000)
        cluster.kill9(doomed)
        try cluster.startWorker("survivor")
        try cluster.waitUntil(timeout: 120) { (try self.status(job)["state"] as? String) == "completed" }
        assertExactlyOnce(try results(job), ids: (0..<400).map { "d\($0)" })
    }

    func testKilledCoordinatorResumesWithoutRedoingFinishedShards() throws {
        try cluster.startCoordinator()
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        let spec = try writeSpec("task: test-crash\nparams: {delay_ms: 10}\nshard_size: 40\n")
        let job = try submit(spec, try writeInput(documents(800)))
        try cluster.waitUntil(timeout: 120) { (try self.status(job)["shards_done"] as? Int ?? 0) >= 3 }
        cluster.kill9(cluster.coordinator!)
        // What was finished before the kill, by file identity.
        let outputs = cluster.dataDirectory.appendingPathComponent("jobs/\(job)/output")
        let before = try identities(outputs)
        XCTAssertGreaterThanOrEqual(before.count, 3)
        try cluster.startCoordinator()
        try cluster.waitUntil(timeout: 180) { (try self.status(job)["state"] as? String) == "completed" }
        assertExactlyOnce(try results(job), ids: (0..<800).map { "d\($0)" })
        let after = try identities(outputs)
        for (file, identity) in before { XCTAssertEqual(after[file], identity, "\(file) was written again after the restart") }
    }

    func identities(_ directory: URL) throws -> [String: String] {
        var out: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".jsonl.lz4") {
            let a = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
            out[name] = "\(a[.systemFileNumber] ?? 0)-\((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        }
        return out
    }

    func testDocumentThatCrashesWorkersIsIsolatedAndTheRestCompletes() throws {
        try cluster.startCoordinator()
        try cluster.startWorker("w1")
        try cluster.startWorker("w2")
        let spec = try writeSpec("task: test-crash\nparams: {marker: CRASH}\nshard_size: 64\nretries: 3\n")
        let job = try submit(spec, try writeInput(documents(200, marker: 77)))
        try cluster.waitUntil(timeout: 240) {
            try self.cluster.reviveWorkers()
            return (try self.status(job)["state"] as? String) == "completed"
        }
        let records = try results(job)
        XCTAssertEqual(records.count, 200)
        XCTAssertEqual(records.compactMap { $0["id"] as? String }, (0..<200).map { "d\($0)" })
        let errors = records.filter { $0["error"] != nil }
        XCTAssertEqual(errors.count, 1)
        XCTAssertEqual(errors.first?["id"] as? String, "d77")
        XCTAssertTrue((errors.first?["error"] as? String ?? "").contains("quarantined"))
    }

    func testInvalidSpecQueuesNothing() throws {
        try cluster.startCoordinator()
        let spec = try writeSpec("task: no-such-task\n")
        let r = try cluster.dojo(["submit", spec, "--input", try writeInput(documents(3))])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown task 'no-such-task'"), r.stderr)
        let all = try cluster.dojo(["status", "--json"])
        XCTAssertEqual(String(decoding: all.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), "[]")
    }

    func testWorkerWithAnUnknownCurveKeyIsRefusedAndSaysSo() throws {
        let keys = cluster.directory.appendingPathComponent("keys")
        let allowed = keys.appendingPathComponent("allowed")
        try FileManager.default.createDirectory(at: allowed, withIntermediateDirectories: true)
        for name in ["server", "allowed/client", "stranger"] {
            XCTAssertEqual(try ProcessRunner.dojo(["keygen", "-o", keys.appendingPathComponent(name).path]).status, 0)
        }
        cluster.endpoint = "tcp://127.0.0.1:\(Int.random(in: 20_000..<40_000))"
        try cluster.startCoordinator(["--curve-secret", keys.appendingPathComponent("server.key").path,
                                      "--authorized-keys", allowed.path, "--heartbeat-ms", "200"])
        let server = keys.appendingPathComponent("server.pub").path
        let stranger = try ProcessRunner.dojo(["worker", "--connect", cluster.endpoint, "--threads", "1",
                                               "--curve-secret", keys.appendingPathComponent("stranger.key").path,
                                               "--server-key", server], timeout: 60)
        XCTAssertNotEqual(stranger.status, 0)
        XCTAssertTrue(stranger.stderr.contains("refused"), stranger.stderr)
        // The allowed key works for a worker and a client.
        try cluster.startWorker("friend", ["--curve-secret", keys.appendingPathComponent("allowed/client.key").path, "--server-key", server])
        let spec = try writeSpec("task: noop\n")
        let r = try cluster.dojo(["submit", spec, "--input", try writeInput(documents(10)), "--wait",
                                  "--curve-secret", keys.appendingPathComponent("allowed/client.key").path, "--server-key", server])
        XCTAssertEqual(r.status, 0, r.stderr + cluster.log("friend"))
        let refusedClient = try cluster.dojo(["status", "--timeout", "5",
                                              "--curve-secret", keys.appendingPathComponent("stranger.key").path, "--server-key", server])
        XCTAssertNotEqual(refusedClient.status, 0)
        XCTAssertTrue(refusedClient.stderr.contains("refused"), refusedClient.stderr)
    }

    func testWorkerInAnotherNetworkNamespaceJoinsOverTCP() throws {
        let ns = "dojo\(getpid() % 100_000)"
        let ip = URL(fileURLWithPath: "/usr/sbin/ip").path
        func sh(_ args: [String]) throws -> ProcessRunner.Output { try ProcessRunner.run(URL(fileURLWithPath: ip), args) }
        let add = try? sh(["netns", "add", ns])
        guard let add, add.status == 0 else {
            throw XCTSkip("network namespaces are not permitted here (ip netns add: \(add?.stderr ?? "ip not found")); the cross-namespace test did not run")
        }
        defer {
            _ = try? sh(["link", "del", "veth-\(ns)"])
            _ = try? sh(["netns", "del", ns])
        }
        for args in [["link", "add", "veth-\(ns)", "type", "veth", "peer", "name", "vpeer-\(ns)"],
                     ["link", "set", "vpeer-\(ns)", "netns", ns],
                     ["addr", "add", "10.231.0.1/24", "dev", "veth-\(ns)"], ["link", "set", "veth-\(ns)", "up"],
                     ["netns", "exec", ns, ip, "addr", "add", "10.231.0.2/24", "dev", "vpeer-\(ns)"],
                     ["netns", "exec", ns, ip, "link", "set", "vpeer-\(ns)", "up"],
                     ["netns", "exec", ns, ip, "link", "set", "lo", "up"]] {
            let r = try sh(args)
            guard r.status == 0 else { throw XCTSkip("cannot set up the veth pair (ip \(args.joined(separator: " ")): \(r.stderr))") }
        }
        cluster.endpoint = "tcp://10.231.0.1:\(Int.random(in: 20_000..<40_000))"
        try cluster.startCoordinator(["--insecure", "--heartbeat-ms", "200"])
        let worker = try cluster.launch(["netns", "exec", ns, TestPaths.dojoBinary.path, "worker", "--connect", cluster.endpoint,
                                         "--threads", "1", "--name", "remote"], log: "remote", executable: URL(fileURLWithPath: ip))
        defer { worker.terminate(); worker.waitUntilExit() }
        let spec = try writeSpec("task: noop\nshard_size: 10\n")
        let job = try submit(spec, try writeInput(documents(50)), wait: true)
        assertExactlyOnce(try results(job), ids: (0..<50).map { "d\($0)" })
    }
}
