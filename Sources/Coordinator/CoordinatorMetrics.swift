// The coordinator's Prometheus metrics (names shared with ops/'s rules, Grafana panels and the
// HPA; do not rename). Two kinds: counters and the shard-latency histogram move when the broker
// loop reports an event (hook calls from the scheduler); gauges are set from the store and the
// live snapshot when `/metrics` is scraped, so they are never stale and the loop pays nothing for
// them. swift-metrics types over a registry of this coordinator's own (no global bootstrap, so
// several coordinators in one test process do not share counters).
import CoreMetrics
import Foundation
import Prometheus
import Wire

/// The coordinator's counters, histogram and scrape-time gauges, rendered by `GET /metrics`.
public final class CoordinatorMetrics: @unchecked Sendable {
    /// The registry `/metrics` renders.
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let store: JobStore
    /// Guards the caches the broker's hooks use; a scrape never holds it, so it never makes the loop wait.
    private let lock = NSLock()
    private var taskByJob: [String: String] = [:]
    private var labeled: [String: CoreMetrics.Counter] = [:]
    private var durations: [String: CoreMetrics.Timer] = [:]
    /// Guards the gauges a scrape sets (two scrapes at once must not interleave set and render).
    private let scrapeLock = NSLock()
    private var dynamicGauges: [String: CoreMetrics.Gauge] = [:]

    private let leaseExpiries: CoreMetrics.Counter
    private let requeues: CoreMetrics.Counter
    private let bytesRaw: CoreMetrics.Counter
    private let bytesCompressed: CoreMetrics.Counter

    /// Shard latency buckets in seconds: a no-op shard takes milliseconds, a decoder shard minutes.
    static let durationBuckets: [Duration] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]
        .map { Duration.milliseconds(Int64($0 * 1000)) }

    /// Metrics over `store` (gauges read it at scrape time; hooks look up a job's task in it).
    public init(store: JobStore) {
        self.store = store
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["dojo_shard_duration_seconds"] = Self.durationBuckets
        self.factory = factory
        leaseExpiries = CoreMetrics.Counter(label: "dojo_lease_expiries_total", factory: factory)
        requeues = CoreMetrics.Counter(label: "dojo_requeues_total", factory: factory)
        bytesRaw = CoreMetrics.Counter(label: "dojo_result_bytes_total", dimensions: [("kind", "raw")], factory: factory)
        bytesCompressed = CoreMetrics.Counter(label: "dojo_result_bytes_total", dimensions: [("kind", "compressed")],
                                              factory: factory)
    }

    // MARK: - Events (broker thread)

    /// A shard's result became its output: documents, tokens and errors per job, task and worker
    /// (its name), result bytes, and the time from lease to result.
    func resultWritten(_ result: ShardResult, workerName: String, leaseStartedMs: UInt64?, nowMs: UInt64) {
        let task = self.task(of: result.jobId)
        let labels = [("job", result.jobId), ("task", task), ("worker", workerName)]
        counter("dojo_documents_processed_total", labels).increment(by: Int64(result.documentCount))
        counter("dojo_tokens_processed_total", labels).increment(by: Int64(clamping: result.tokenCount))
        counter("dojo_document_errors_total", [("job", result.jobId), ("task", task)]).increment(by: Int64(result.errorCount))
        bytesRaw.increment(by: Int64(clamping: result.rawBytes))
        bytesCompressed.increment(by: Int64(result.frame.count))
        if let started = leaseStartedMs, nowMs >= started {
            let timer = lock.withLock { () -> CoreMetrics.Timer in
                if let t = durations[task] { return t }
                let t = CoreMetrics.Timer(label: "dojo_shard_duration_seconds", dimensions: [("task", task)], factory: factory)
                durations[task] = t
                return t
            }
            timer.recordMilliseconds(nowMs - started)
        }
    }

    /// The coordinator wrote an error record for a document that kept crashing workers.
    func documentQuarantined(jobId: String) {
        counter("dojo_document_errors_total", [("job", jobId), ("task", task(of: jobId))]).increment()
    }

    /// An attempt ended because its lease ran out (deadline, timeout, or its worker went silent or restarted).
    func leaseExpired() { leaseExpiries.increment() }

    /// Shards that went back to the queue without a result.
    func shardsRequeued(_ count: Int = 1) {
        if count > 0 { requeues.increment(by: count) }
    }

    private func counter(_ name: String, _ labels: [(String, String)]) -> CoreMetrics.Counter {
        let key = name + labels.map { "|\($0.1)" }.joined()
        return lock.withLock {
            if let c = labeled[key] { return c }
            let c = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
            labeled[key] = c
            return c
        }
    }

    private func task(of jobId: String) -> String {
        if let task = lock.withLock({ taskByJob[jobId] }) { return task }
        let task = (try? store.job(jobId))?.task ?? "unknown"
        lock.withLock {
            if taskByJob.count >= 1_024 { taskByJob.removeAll() }
            taskByJob[jobId] = task
        }
        return task
    }

    // MARK: - Scrape (any thread)

    /// Sets the gauges from the store and `live`, then renders every metric in Prometheus text format.
    public func exposition(live: LiveSnapshot, nowMs: UInt64) throws -> String {
        let counts = try store.gauges()
        let running = try store.jobStatuses().filter { $0.state == JobState.running.rawValue }
        var values: [(name: String, labels: [(String, String)], value: Double)] = []
        for state in JobState.allCases {
            values.append(("dojo_jobs", [("state", state.rawValue)], Double(counts.jobsByState[state] ?? 0)))
        }
        values.append(("dojo_shards", [("state", "queued")], Double(counts.shardsQueued)))
        values.append(("dojo_shards", [("state", "in_flight")], Double(counts.shardsInFlight)))
        values.append(("dojo_shards", [("state", "done")], Double(counts.shardsDone)))
        values.append(("dojo_queued_documents", [], Double(counts.queuedDocuments)))
        values.append(("dojo_workers_connected", [], Double(live.workers.count)))
        for worker in live.workers.values {
            let age = nowMs > worker.lastHeardMs ? Double(nowMs - worker.lastHeardMs) / 1000 : 0
            values.append(("dojo_worker_heartbeat_age_seconds", [("worker", worker.info.name)], age))
        }
        for job in running {
            values.append(("dojo_job_documents_per_second", [("job", job.id)], job.documentsPerSecond ?? 0))
            if let eta = job.etaSeconds { values.append(("dojo_job_eta_seconds", [("job", job.id)], eta)) }
        }
        return scrapeLock.withLock {
            // Series of workers that left and jobs that stopped running disappear.
            var keep = Set<String>()
            for v in values {
                let key = v.name + v.labels.map { "|\($0.1)" }.joined()
                keep.insert(key)
                let gauge = dynamicGauges[key] ?? CoreMetrics.Gauge(label: v.name, dimensions: v.labels, factory: factory)
                dynamicGauges[key] = gauge
                gauge.record(v.value)
            }
            for (key, gauge) in dynamicGauges where !keep.contains(key) {
                gauge.destroy()
                dynamicGauges[key] = nil
            }
            return registry.emitToString()
        }
    }
}
