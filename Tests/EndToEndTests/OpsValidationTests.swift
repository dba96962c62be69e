import Foundation
import TestSupport
import XCTest

/// The deployment files under ops/: `ops/validate` accepts them (systemd-analyze, promtool, YAML,
/// JSON, bash -n, dojo's own flags), fails by name on a broken one, and every series the alert
/// rules, the dashboard and the autoscaler read is one Dojo exports.
final class OpsValidationTests: XCTestCase {
    let root = TestPaths.packageRoot
    var ops: URL { root.appendingPathComponent("ops") }

    func validate(in directory: URL) throws -> ProcessRunner.Output {
        try ProcessRunner.run(directory.appendingPathComponent("ops/validate"), [],
                              environment: ["DOJO_BIN": TestPaths.dojoBinary.path], timeout: 300)
    }

    func testValidateAcceptsTheDeploymentFiles() throws {
        let result = try validate(in: root)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("systemd: dojo-coordinator.service verified"), result.stderr)
        XCTAssertTrue(result.stderr.contains("systemd: dojo-worker@validate.service verified"), result.stderr)
        XCTAssertTrue(result.stderr.contains("prometheus: configs, rules, rule tests, dashboard and adapter queries pass"), result.stderr)
        XCTAssertTrue(result.stderr.contains("kubernetes: manifests match the API schemas of 1.29 and 1.37"), result.stderr)
        XCTAssertTrue(result.stderr.contains("all ops checks passed"), result.stderr)
    }

    /// A copy of ops/ with one file changed: validate must fail and say which file and why.
    func validateBroken(_ file: String, replacing old: String, with new: String) throws -> ProcessRunner.Output {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("dojo-ops-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: copy) }
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: ops, to: copy.appendingPathComponent("ops"))
        let path = copy.appendingPathComponent("ops").appendingPathComponent(file)
        let text = try String(contentsOf: path, encoding: .utf8)
        XCTAssertTrue(text.contains(old), "\(file) no longer contains \(old)")
        try text.replacingOccurrences(of: old, with: new).write(to: path, atomically: true, encoding: .utf8)
        return try validate(in: copy)
    }

    func testValidateFailsOnAnUnknownSystemdKeyThatVerifyOnlyWarnsAbout() throws {
        let result = try validateBroken("systemd/dojo-coordinator.service", replacing: "PrivateTmp=yes", with: "PrivateTemp=yes")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("dojo-coordinator.service"), result.stderr)
        XCTAssertTrue(result.stderr.contains("Unknown key 'PrivateTemp'"), result.stderr)
    }

    func testValidateFailsOnAManifestFieldTheKubernetesAPIDoesNotHave() throws {
        let result = try validateBroken("k8s/coordinator.yaml", replacing: "podManagementPolicy:", with: "podManagmentPolicy:")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("statefulset/dojo-coordinator"), result.stderr)
        XCTAssertTrue(result.stderr.contains("'podManagmentPolicy' was unexpected"), result.stderr)
    }

    func testValidateFailsWhenAManifestPassesAFlagDojoDoesNotTake() throws {
        let result = try validateBroken("k8s/workers.yaml", replacing: "--server-key=", with: "--server-pub=")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("ops/k8s/workers.yaml document 3: dojo worker has no --server-pub option"), result.stderr)
    }

    func testValidateFailsWhenAnAlertNoLongerFiresAsItsRuleTestExpects() throws {
        let result = try validateBroken("prometheus/dojo-alerts.yml", replacing: "> 0.05", with: "> 0.5")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("promtool test rules"), result.stderr)
        XCTAssertTrue(result.stderr.contains("DojoDocumentErrorRateHigh"), result.stderr)
    }

    // MARK: - Slurm

    /// The batch script as Slurm runs it, with a stand-in `srun` that runs the step in place: the
    /// worker joins a real coordinator under the array task's name with SLURM_CPUS_PER_TASK
    /// threads, and the SIGTERM that `#SBATCH --signal` sends the batch shell reaches the worker,
    /// which stops gracefully (handing its shards back) and the script exits 0.
    func testSlurmScriptStartsAWorkerAndDrainsItOnSIGTERM() throws {
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent("dojo-srun-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: bin) }
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let srun = bin.appendingPathComponent("srun")
        try "#!/bin/sh\n# srun stand-in: drop srun's own --options, run the step in place.\nwhile [ $# -gt 0 ]; do case \"$1\" in --*) shift;; *) break;; esac; done\nexec \"$@\"\n"
            .write(to: srun, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: srun.path)

        let port = Int.random(in: 20_000..<60_000)
        let env = ProcessInfo.processInfo.environment
        let cluster = ClusterHarness("slurm", environment: [
            "PATH": bin.path + ":" + (env["PATH"] ?? "/usr/bin:/bin"),
            "DOJO_COORDINATOR": "127.0.0.1:\(port)", "DOJO_BIN": TestPaths.dojoBinary.path, "DOJO_INSECURE": "1",
            "SLURM_CPUS_PER_TASK": "1", "SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "3",
        ])
        defer { cluster.stopAll() }
        cluster.endpoint = "tcp://127.0.0.1:\(port)"
        try cluster.startCoordinator()
        let script = ops.appendingPathComponent("slurm/dojo-workers.sbatch")
        let batch = try cluster.launch([script.path], log: "slurm", executable: URL(fileURLWithPath: "/bin/bash"))
        defer { if batch.isRunning { kill(batch.processIdentifier, SIGKILL) } }

        func slurmWorker() throws -> [String: Any]? {
            let out = try cluster.dojo(["workers", "--json"])
            let list = (try? JSONSerialization.jsonObject(with: out.stdout)) as? [[String: Any]] ?? []
            return list.first { ($0["name"] as? String ?? "").hasPrefix("slurm-77-3-") }
        }
        try cluster.waitUntil(timeout: 60) { try slurmWorker()?["connected"] as? Bool == true }
        XCTAssertEqual(try slurmWorker()?["threads"] as? Int, 1)

        kill(batch.processIdentifier, SIGTERM)
        try cluster.waitUntil(timeout: 60) { !batch.isRunning }
        XCTAssertEqual(batch.terminationStatus, 0, cluster.log("slurm"))
        XCTAssertTrue(cluster.log("slurm").contains("dojo-workers: SIGTERM, draining slurm-77-3-"), cluster.log("slurm"))
        // The worker took its graceful stop path (the one that hands shards back), not a kill.
        XCTAssertTrue(cluster.log("slurm").contains("worker stopped"), cluster.log("slurm"))
        try cluster.waitUntil(timeout: 30) { try slurmWorker()?["connected"] as? Bool == false }
    }

    // MARK: - The units' sandbox

    /// The coordinator and a worker run an embed job (the model mapped from disk, results over
    /// TCP, and /metrics over HTTP once the binary has --http) inside the system-call filter,
    /// address-family list and write-xor-execute rule of their systemd units
    /// (ops/systemd/sandbox-run installs them with libseccomp), and stop cleanly on SIGTERM. A unit that forbids something dojo needs fails here, not on a user's machine.
    func testCoordinatorAndWorkerRunAJobInsideTheirUnitsSyscallFilters() throws {
        let sandbox = ops.appendingPathComponent("systemd/sandbox-run")
        let dojo = TestPaths.dojoBinary.path
        let cluster = ClusterHarness("sandbox")
        defer { cluster.stopAll() }
        let port = Int.random(in: 20_000..<60_000)
        cluster.endpoint = "tcp://127.0.0.1:\(port)"
        // The HTTP endpoints run inside the filters too.
        let coordinatorHTTP = ["--http", "127.0.0.1:\(port + 1)"]
        let workerHTTP = ["--http", "127.0.0.1:\(port + 2)"]
        let coordinator = try cluster.launch([ops.appendingPathComponent("systemd/dojo-coordinator.service").path, "--",
                                              dojo, "coordinator", "--listen", cluster.endpoint,
                                              "--data", cluster.dataDirectory.path, "--heartbeat-ms", "200"] + coordinatorHTTP,
                                             log: "coordinator", executable: sandbox)
        defer { if coordinator.isRunning { kill(coordinator.processIdentifier, SIGKILL) } }
        let worker = try cluster.launch([ops.appendingPathComponent("systemd/dojo-worker@.service").path, "--",
                                         dojo, "worker", "--connect", cluster.endpoint, "--threads", "2", "--name", "sandboxed",
                                         "--profile", root.appendingPathComponent("workers/default.yaml").path] + workerHTTP,
                                        log: "worker", executable: sandbox)
        defer { if worker.isRunning { kill(worker.processIdentifier, SIGKILL) } }

        let spec = cluster.directory.appendingPathComponent("spec.yaml")
        try "task: embed\nmodel: minilm\nshard_size: 8\n".write(to: spec, atomically: true, encoding: .utf8)
        let input = cluster.directory.appendingPathComponent("input.jsonl")
        try (0..<40).map { #"{"id":"d\#($0)","text":"Either party may terminate this Agreement on notice \#($0)."}"# }
            .joined(separator: "\n").appending("\n").write(to: input, atomically: true, encoding: .utf8)
        let submitted = try cluster.dojo(["submit", spec.path, "--input", input.path, "--wait"], timeout: 300)
        XCTAssertEqual(submitted.status, 0, submitted.stderr + cluster.log("coordinator") + cluster.log("worker"))
        let job = submitted.lines.last ?? ""
        let results = try cluster.dojo(["results", job])
        XCTAssertEqual(results.status, 0, results.stderr)
        let records = results.lines.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] }
        XCTAssertEqual(records.compactMap { $0["id"] as? String }, (0..<40).map { "d\($0)" })
        XCTAssertEqual(Set(records.map { ($0["embedding"] as? [Double])?.count ?? 0 }), [384])
        // The series the HPA and the alerts read, served from inside the sandbox.
        let get = "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"
        let coordinatorMetrics = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"),
                                                       ["python3", "-c", get, "http://127.0.0.1:\(port + 1)/metrics"])
        XCTAssertEqual(coordinatorMetrics.status, 0, coordinatorMetrics.stderr + cluster.log("coordinator"))
        XCTAssertTrue(coordinatorMetrics.stdoutText.contains("dojo_queued_documents"), coordinatorMetrics.stdoutText)
        let workerMetrics = try ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"),
                                                  ["python3", "-c", get, "http://127.0.0.1:\(port + 2)/metrics"])
        XCTAssertEqual(workerMetrics.status, 0, workerMetrics.stderr + cluster.log("worker"))
        XCTAssertTrue(workerMetrics.stdoutText.contains("dojo_worker_busy"), workerMetrics.stdoutText)

        kill(worker.processIdentifier, SIGTERM)
        try cluster.waitUntil(timeout: 60) { !worker.isRunning }
        XCTAssertEqual(worker.terminationStatus, 0, cluster.log("worker"))
        kill(coordinator.processIdentifier, SIGTERM)
        try cluster.waitUntil(timeout: 60) { !coordinator.isRunning }
        XCTAssertEqual(coordinator.terminationStatus, 0, cluster.log("coordinator"))
    }

    // MARK: - Metric names

    /// ops/prometheus/metric-names.txt: `name type` per line; `#` starts a comment.
    func exportedMetrics() throws -> [String: String] {
        let text = try String(contentsOf: ops.appendingPathComponent("prometheus/metric-names.txt"), encoding: .utf8)
        var types: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let fields = line.split(separator: " ").map(String.init)
            XCTAssertEqual(fields.count, 2, "metric-names.txt: \(line)")
            types[fields[0]] = fields[1]
        }
        return types
    }

    /// Every `dojo_…` identifier in a file: metric names, and the `dojo_job` label.
    func identifiers(in file: String) throws -> Set<String> {
        let text = try String(contentsOf: ops.appendingPathComponent(file), encoding: .utf8)
        let regex = try NSRegularExpression(pattern: "\\bdojo_[a-z0-9_]*[a-z0-9]")
        let range = NSRange(text.startIndex..., in: text)
        return Set(regex.matches(in: text, range: range).map { String(text[Range($0.range, in: text)!]) })
    }

    func testMetricNamesAreTheSharedList() throws {
        let metrics = try exportedMetrics()
        XCTAssertEqual(metrics.count, 20)
        XCTAssertEqual(metrics["dojo_queued_documents"], "gauge")
        XCTAssertEqual(metrics["dojo_shard_duration_seconds"], "histogram")
        XCTAssertEqual(metrics["dojo_worker_shard_duration_seconds"], "histogram")
        XCTAssertEqual(Set(metrics.values), ["gauge", "counter", "histogram"])
        for (name, type) in metrics where type == "counter" { XCTAssertTrue(name.hasSuffix("_total"), name) }
    }

    func testRulesDashboardAndAutoscalerUseOnlyExportedSeries() throws {
        let metrics = try exportedMetrics()
        // Histograms are read through their _bucket / _sum / _count series; `dojo_job` is the
        // label prometheus.yml renames the coordinator's `job` label to.
        var allowed: Set<String> = ["dojo_job"]
        for (name, type) in metrics {
            allowed.insert(name)
            if type == "histogram" { allowed.formUnion(["_bucket", "_sum", "_count"].map { name + $0 }) }
        }
        let files = ["prometheus/dojo-alerts.yml", "prometheus/dojo-alerts.test.yml", "grafana/dojo-dashboard.json",
                     "k8s/hpa.yaml", "k8s/prometheus-adapter.yaml"]
        var used: Set<String> = []
        for file in files {
            let names = try identifiers(in: file)
            XCTAssertEqual(names.subtracting(allowed).sorted(), [], "\(file) uses series Dojo does not export")
            used.formUnion(names)
        }
        // What each file is for: the autoscaler reads the queue depth, the dashboard the latency
        // histogram and the heartbeats, the alerts the worker count and lease expiries.
        XCTAssertTrue(try identifiers(in: "k8s/hpa.yaml").contains("dojo_queued_documents"))
        XCTAssertTrue(try identifiers(in: "k8s/prometheus-adapter.yaml").contains("dojo_queued_documents"))
        let dashboard = try identifiers(in: "grafana/dojo-dashboard.json")
        for name in ["dojo_shard_duration_seconds_bucket", "dojo_worker_heartbeat_age_seconds", "dojo_queued_documents",
                     "dojo_documents_processed_total", "dojo_document_errors_total", "dojo_jobs"] {
            XCTAssertTrue(dashboard.contains(name), "the dashboard has no \(name) panel")
        }
        let alerts = try identifiers(in: "prometheus/dojo-alerts.yml")
        for name in ["dojo_workers_connected", "dojo_jobs", "dojo_documents_processed_total", "dojo_document_errors_total",
                     "dojo_worker_heartbeat_age_seconds", "dojo_lease_expiries_total"] {
            XCTAssertTrue(alerts.contains(name), "no alert reads \(name)")
        }
        XCTAssertFalse(used.isEmpty)
    }
}
