import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import TestSupport
import XCTest

/// `dojo coordinator --http` and `dojo worker --http` as users run them: a real coordinator and
/// worker, a job through them, then the metrics, the JSON API, the health checks and the dashboard
/// in a real headless browser.
final class MonitoringTests: XCTestCase {
    var cluster: ClusterHarness!

    override func setUp() { cluster = ClusterHarness(name) }
    override func tearDown() {
        cluster.stopAll()
        if testRun?.failureCount == 0 { try? FileManager.default.removeItem(at: cluster.directory) }
    }

    /// Text no response may ever contain: it is in every input document.
    let secret = "CONFIDENTIAL-PATIENT-TEXT"

    // MARK: - Helpers

    /// A TCP port nothing listens on now (the kernel's pick for port 0).
    func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw NSError(domain: "MonitoringTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "no free port"]) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    struct HTTPResult {
        var status: Int
        var contentType: String
        var body: Data
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> Any { try JSONSerialization.jsonObject(with: body) }
    }

    func get(_ url: String) throws -> HTTPResult {
        final class Box: @unchecked Sendable { var result: Result<HTTPResult, Error>? }
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        let task = URLSession.shared.dataTask(with: URL(string: url)!) { data, response, error in
            if let error { box.result = .failure(error) } else {
                let http = response as! HTTPURLResponse
                box.result = .success(HTTPResult(status: http.statusCode,
                                                 contentType: http.value(forHTTPHeaderField: "Content-Type") ?? "",
                                                 body: data ?? Data()))
            }
            done.signal()
        }
        task.resume()
        guard done.wait(timeout: .now() + 30) == .success else { task.cancel(); throw NSError(domain: "GET \(url) timed out", code: 2) }
        return try box.result!.get()
    }

    func waitForHealth(_ base: String) throws {
        try cluster.waitUntil(timeout: 60) { (try? self.get(base + "/healthz"))?.status == 200 }
    }

    /// Submits `count` documents to a `noop` job (or `spec`), waiting for it to finish when `wait`.
    func submit(documents count: Int, shardSize: Int, spec yaml: String = "task: noop\nname: watched\n",
                wait: Bool = true) throws -> String {
        let spec = cluster.directory.appendingPathComponent("spec-\(UUID().uuidString.prefix(6)).yaml")
        try (yaml + "shard_size: \(shardSize)\n").write(to: spec, atomically: true, encoding: .utf8)
        let input = cluster.directory.appendingPathComponent("input.jsonl")
        let lines = (0..<count).map { #"{"id":"d\#($0)","text":"\#(secret) \#($0)"}"# }
        try (lines.joined(separator: "\n") + "\n").write(to: input, atomically: true, encoding: .utf8)
        let r = try cluster.dojo(["submit", spec.path, "--input", input.path] + (wait ? ["--wait"] : []))
        XCTAssertEqual(r.status, 0, "submit: \(r.stderr)\n\(cluster.log("coordinator"))")
        return r.lines.first ?? ""
    }

    /// Lines of a Prometheus exposition starting with `prefix`.
    func metricLines(_ text: String, _ prefix: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix + "{") || $0.hasPrefix(prefix + " ") }.sorted()
    }

    // MARK: - Metrics, API, health

    func testMetricsApiAndHealthAfterASmallJobAndARestart() throws {
        let port = try freePort(), workerPort = try freePort()
        let base = "http://127.0.0.1:\(port)", workerBase = "http://127.0.0.1:\(workerPort)"
        try cluster.startCoordinator(["--heartbeat-ms", "200", "--http", "127.0.0.1:\(port)"])
        try waitForHealth(base)
        try cluster.startWorker("w1", ["--http", "127.0.0.1:\(workerPort)"])
        try waitForHealth(workerBase)
        let job = try submit(documents: 50, shardSize: 10)
        XCTAssertEqual(job, "j000001")

        let health = try get(base + "/healthz")
        XCTAssertEqual([health.status.description, health.text], ["200", "ok\n"])

        // /api/jobs: the status document, rates filled from the store.
        let jobs = try get(base + "/api/jobs")
        XCTAssertEqual(jobs.status, 200)
        XCTAssertEqual(jobs.contentType, "application/json")
        let list = try XCTUnwrap((try jobs.json() as? [String: Any])?["jobs"] as? [[String: Any]])
        XCTAssertEqual(list.count, 1)
        let j = list[0]
        XCTAssertEqual(Set(j.keys), ["id", "name", "task", "state", "priority", "created_ms", "started_ms", "finished_ms",
                                     "input_complete", "documents_total", "documents_done", "document_errors", "tokens",
                                     "bytes_raw", "bytes_compressed", "shards_total", "shards_done", "documents_per_second",
                                     "tokens_per_second"])
        XCTAssertEqual(j["id"] as? String, "j000001")
        XCTAssertEqual(j["name"] as? String, "watched")
        XCTAssertEqual(j["task"] as? String, "noop")
        XCTAssertEqual(j["state"] as? String, "completed")
        XCTAssertEqual(j["documents_total"] as? Int, 50)
        XCTAssertEqual(j["documents_done"] as? Int, 50)
        XCTAssertEqual(j["document_errors"] as? Int, 0)
        XCTAssertEqual(j["shards_total"] as? Int, 5)
        XCTAssertEqual(j["shards_done"] as? Int, 5)
        let rate = try XCTUnwrap(j["documents_per_second"] as? Double)
        XCTAssertGreaterThan(rate, 0)
        // dojo status reads the same figures over ZeroMQ.
        let cli = try cluster.dojo(["status", "j000001", "--json"])
        let viaCLI = (try? JSONSerialization.jsonObject(with: cli.stdout)) as? [[String: Any]]
        XCTAssertEqual(viaCLI?.first?["documents_per_second"] as? Double, rate, cli.stdoutText + cli.stderr)

        let one = try get(base + "/api/jobs/j000001")
        XCTAssertEqual(one.status, 200)
        XCTAssertEqual((try one.json() as? [String: Any])?["documents_done"] as? Int, 50)
        let missing = try get(base + "/api/jobs/j000009")
        XCTAssertEqual(missing.status, 404)
        XCTAssertEqual(missing.text, #"{"error":"no job j000009"}"#)

        // /api/workers: w1, connected, idle, recently heard.
        let workers = try XCTUnwrap((try get(base + "/api/workers").json() as? [String: Any])?["workers"] as? [[String: Any]])
        XCTAssertEqual(workers.count, 1)
        let w = workers[0]
        XCTAssertEqual(Set(w.keys), ["identity", "name", "connected", "threads", "cpu_features", "models", "adapters",
                                     "software_version", "last_seen_ms", "documents_per_second", "tokens_per_second",
                                     "shards_done", "leases", "credits", "current_shards", "heartbeat_age_ms"])
        XCTAssertEqual(w["name"] as? String, "w1")
        XCTAssertEqual(w["connected"] as? Bool, true)
        XCTAssertEqual(w["shards_done"] as? Int, 5)
        XCTAssertEqual(w["current_shards"] as? [String], [])
        XCTAssertLessThan(try XCTUnwrap(w["heartbeat_age_ms"] as? Int), 5_000)

        // /api/throughput: an hour of 10 s buckets holding the 50 documents.
        let series = try XCTUnwrap(try get(base + "/api/throughput?minutes=60").json() as? [String: Any])
        XCTAssertEqual(series["bucket_seconds"] as? Int, 10)
        let points = try XCTUnwrap(series["points"] as? [[String: Any]])
        XCTAssertEqual(points.count, 360)
        XCTAssertEqual(points.map { $0["documents"] as? Int ?? -1 }.reduce(0, +), 50)

        // Coordinator /metrics.
        let metrics = try get(base + "/metrics")
        XCTAssertEqual(metrics.status, 200)
        XCTAssertTrue(metrics.contentType.hasPrefix("text/plain; version=0.0.4"), metrics.contentType)
        let m = metrics.text
        XCTAssertEqual(metricLines(m, "dojo_documents_processed_total"), [#"dojo_documents_processed_total{job="j000001",task="noop",worker="w1"} 50"#])
        XCTAssertEqual(metricLines(m, "dojo_document_errors_total"), [#"dojo_document_errors_total{job="j000001",task="noop"} 0"#])
        XCTAssertEqual(metricLines(m, "dojo_jobs").filter { $0.contains("completed") }, [#"dojo_jobs{state="completed"} 1.0"#])
        XCTAssertEqual(metricLines(m, "dojo_shards"), [#"dojo_shards{state="done"} 5.0"#, #"dojo_shards{state="in_flight"} 0.0"#,
                                                  #"dojo_shards{state="queued"} 0.0"#])
        XCTAssertEqual(metricLines(m, "dojo_queued_documents"), ["dojo_queued_documents 0.0"])
        XCTAssertEqual(metricLines(m, "dojo_workers_connected"), ["dojo_workers_connected 1.0"])
        XCTAssertEqual(metricLines(m, "dojo_lease_expiries_total"), ["dojo_lease_expiries_total 0"])
        XCTAssertEqual(metricLines(m, "dojo_requeues_total"), ["dojo_requeues_total 0"])
        XCTAssertEqual(metricLines(m, "dojo_worker_heartbeat_age_seconds").count, 1)
        XCTAssertTrue(m.contains(#"dojo_shard_duration_seconds_count{task="noop"} 5"#), m)
        XCTAssertEqual(metricLines(m, "dojo_result_bytes_total").count, 2)

        // Worker /metrics and /healthz.
        let wm = try get(workerBase + "/metrics").text
        XCTAssertEqual(metricLines(wm, "dojo_worker_documents_total"), ["dojo_worker_documents_total 50"])
        XCTAssertEqual(metricLines(wm, "dojo_worker_shards_total"), [#"dojo_worker_shards_total{outcome="error"} 0"#,
                                                                #"dojo_worker_shards_total{outcome="ok"} 5"#,
                                                                #"dojo_worker_shards_total{outcome="withdrawn"} 0"#])
        XCTAssertEqual(metricLines(wm, "dojo_worker_busy"), ["dojo_worker_busy 0.0"])
        XCTAssertEqual(metricLines(wm, "dojo_worker_connected"), ["dojo_worker_connected 1.0"])
        XCTAssertTrue(wm.contains("dojo_worker_shard_duration_seconds_count 5"), wm)
        XCTAssertTrue(wm.contains("dojo_worker_tokens_total "), wm)
        XCTAssertEqual(try get(workerBase + "/healthz").text, "ok\n")

        // Nothing served contains document text.
        for path in ["/api/jobs", "/api/jobs/j000001", "/api/workers", "/api/throughput", "/metrics", "/", "/dashboard.js"] {
            XCTAssertFalse(try get(base + path).text.contains(secret), path)
        }

        // A restart keeps the job's rate: it comes from the store.
        cluster.coordinator?.terminate()
        cluster.coordinator?.waitUntilExit()
        try cluster.startCoordinator(["--heartbeat-ms", "200", "--http", "127.0.0.1:\(port)"])
        try waitForHealth(base)
        let again = try XCTUnwrap(((try get(base + "/api/jobs/j000001").json()) as? [String: Any])?["documents_per_second"] as? Double)
        XCTAssertEqual(again, rate)
        let afterRestart = try XCTUnwrap(try get(base + "/api/throughput?minutes=60").json() as? [String: Any])
        XCTAssertEqual((afterRestart["points"] as? [[String: Any]] ?? []).map { $0["documents"] as? Int ?? -1 }.reduce(0, +), 50)
    }

    func testBadHTTPAddressIsRefusedBeforeStarting() throws {
        let r = try ProcessRunner.dojo(["coordinator", "--data", cluster.dataDirectory.path, "--http", "localhost"], timeout: 60)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--http localhost: expected HOST:PORT"), r.stderr)
    }

    // MARK: - Dashboard in a real browser

    static let chromium = "/usr/bin/chromium"

    func chromium(_ arguments: [String]) throws -> ProcessRunner.Output {
        let profile = cluster.directory.appendingPathComponent("chromium-profile")
        return try ProcessRunner.run(URL(fileURLWithPath: Self.chromium),
                                     ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                                      "--user-data-dir=\(profile.path)", "--virtual-time-budget=10000"] + arguments,
                                     timeout: 120)
    }

    func testDashboardShowsTheJobItsProgressWorkersAndAChartInChromium() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.chromium) else {
            return XCTFail("\(Self.chromium) is not installed: run ops/setup (it installs Debian's chromium for this test)")
        }
        let port = try freePort()
        let base = "http://127.0.0.1:\(port)"
        try cluster.startCoordinator(["--heartbeat-ms", "200", "--http", "127.0.0.1:\(port)"])
        try waitForHealth(base)
        try cluster.startWorker("w1")
        let job = try submit(documents: 200, shardSize: 20)
        XCTAssertEqual(job, "j000001")
        // A second job that runs while the page is loaded: 100 ms per document, 1 s per shard, 100 s in all.
        let slow = try submit(documents: 1_000, shardSize: 10, spec: "task: test-crash\nname: slow\nparams: {delay_ms: 100}\n", wait: false)
        XCTAssertEqual(slow, "j000002")
        // Wait until the worker holds a shard of it and it has a rate (a shard finished).
        try cluster.waitUntil(timeout: 60) {
            let w = ((try? self.get(base + "/api/workers").json() as? [String: Any])?["workers"] as? [[String: Any]])?.first
            let j = (try? self.get(base + "/api/jobs/j000002").json()) as? [String: Any]
            return (w?["current_shards"] as? [String])?.first?.hasPrefix("j000002/") == true && j?["eta_seconds"] is Double
        }

        let page = try get(base + "/")
        XCTAssertEqual(page.contentType, "text/html; charset=utf-8")

        let dump = try chromium(["--dump-dom", base + "/"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        let dom = dump.stdoutText
        // The job, its progress as text and as a progress element.
        XCTAssertTrue(dom.contains(#"<td class="job-id">j000001</td>"#), dom)
        XCTAssertTrue(dom.contains("200/200 docs"), dom)
        let progress = try XCTUnwrap(dom.range(of: #"<progress[^>]*id="progress-j000001"[^>]*>"#, options: .regularExpression).map { String(dom[$0]) }, dom)
        XCTAssertTrue(progress.contains(#"value="200""#) && progress.contains(#"max="200""#), progress)
        XCTAssertTrue(dom.contains(#"<td class="state-completed">completed</td>"#), dom)
        // The running job: partial progress, a rate and an ETA.
        let row = try XCTUnwrap(dom.range(of: #"<tr id="job-j000002">.*?</tr>"#, options: .regularExpression).map { String(dom[$0]) }, dom)
        XCTAssertTrue(row.contains(#"<td class="state-running">running</td>"#), row)
        XCTAssertNotNil(row.range(of: #"<progress[^>]*max="1000"[^>]*>"#, options: .regularExpression), row)
        XCTAssertNotNil(row.range(of: #">[1-9][0-9]*/1000 docs<"#, options: .regularExpression), row)
        XCTAssertNotNil(row.range(of: #"<td class="num">([0-9]+s|[0-9]+m [0-9]{2}s)</td>"#, options: .regularExpression), "no ETA: \(row)")
        // The worker, busy on a shard of it.
        XCTAssertTrue(dom.contains(#"<td class="worker-name">w1</td>"#), dom)
        XCTAssertTrue(dom.contains(#"<td class="state-busy">busy</td>"#), dom)
        XCTAssertNotNil(dom.range(of: #"<td>j000002/[0-9]+(, j000002/[0-9]+)*</td>"#, options: .regularExpression), dom)
        // A drawn chart: a path through all 360 buckets, not all on the baseline.
        let pathTag = try XCTUnwrap(dom.range(of: #"<path id="chart-line" d="[^"]*"[^>]*>"#, options: .regularExpression).map { String(dom[$0]) }, dom)
        XCTAssertTrue(pathTag.contains(#"data-points="360""#), pathTag)
        let d = try XCTUnwrap(pathTag.range(of: #" d="[^"]*""#, options: .regularExpression).map { String(pathTag[$0].dropFirst(4).dropLast()) })
        let ys = d.split(whereSeparator: { $0 == "M" || $0 == "L" }).compactMap { Double($0.split(separator: ",").last!.trimmingCharacters(in: .whitespaces)) }
        XCTAssertEqual(ys.count, 360, d)
        XCTAssertTrue(ys.contains { $0 < 200 }, "every point on the baseline: \(d)")
        XCTAssertFalse(dom.contains(secret))
        XCTAssertFalse(dom.contains("Cannot reach the coordinator"), dom)

        // The screenshot, kept as a test artefact.
        let artefacts = TestPaths.packageRoot.appendingPathComponent("test-artifacts")
        try FileManager.default.createDirectory(at: artefacts, withIntermediateDirectories: true)
        let png = artefacts.appendingPathComponent("dashboard.png")
        try? FileManager.default.removeItem(at: png)
        let shot = try chromium(["--screenshot=\(png.path)", "--window-size=1280,900", "--hide-scrollbars", base + "/"])
        XCTAssertEqual(shot.status, 0, shot.stderr)
        let bytes = try Data(contentsOf: png)
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "not a PNG")
        XCTAssertGreaterThan(bytes.count, 10_000)
    }
}
