// A worker's own Prometheus metrics, served by `dojo worker --http ADDR` (names shared with ops/'s
// rules and dashboards; do not rename): documents, tokens and shards it finished, how long shards
// took, whether it computes now and whether it is joined to a coordinator. swift-metrics types
// over a registry of the worker's own (no global bootstrap).
import CoreMetrics
import Foundation
import Hummingbird
import Prometheus
import Wire

/// A worker's counters, histogram and gauges, rendered by its `GET /metrics`.
public final class WorkerMetrics: @unchecked Sendable {
    /// The registry `/metrics` renders.
    public let registry = PrometheusCollectorRegistry()
    private let documents: CoreMetrics.Counter
    private let tokens: CoreMetrics.Counter
    private let shardsOK: CoreMetrics.Counter
    private let shardsError: CoreMetrics.Counter
    private let shardsWithdrawn: CoreMetrics.Counter
    private let duration: CoreMetrics.Timer
    private let busy: CoreMetrics.Gauge
    private let connected: CoreMetrics.Gauge

    /// Shard duration buckets in seconds: a no-op shard takes milliseconds, a decoder shard minutes.
    static let durationBuckets: [Duration] = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]
        .map { Duration.milliseconds(Int64($0 * 1000)) }

    /// Every series at zero, the worker not yet connected.
    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        documents = CoreMetrics.Counter(label: "dojo_worker_documents_total", factory: factory)
        tokens = CoreMetrics.Counter(label: "dojo_worker_tokens_total", factory: factory)
        shardsOK = CoreMetrics.Counter(label: "dojo_worker_shards_total", dimensions: [("outcome", "ok")], factory: factory)
        shardsError = CoreMetrics.Counter(label: "dojo_worker_shards_total", dimensions: [("outcome", "error")], factory: factory)
        shardsWithdrawn = CoreMetrics.Counter(label: "dojo_worker_shards_total", dimensions: [("outcome", "withdrawn")], factory: factory)
        duration = CoreMetrics.Timer(label: "dojo_worker_shard_duration_seconds", factory: factory)
        busy = CoreMetrics.Gauge(label: "dojo_worker_busy", factory: factory)
        connected = CoreMetrics.Gauge(label: "dojo_worker_connected", factory: factory)
        busy.record(0)
        connected.record(0)
    }

    /// The compute thread started (true) or finished (false) a shard.
    func setBusy(_ value: Bool) { busy.record(value ? 1 : 0) }

    /// Joined to a coordinator (welcome received) or not (silent coordinator, stopping).
    func setConnected(_ value: Bool) { connected.record(value ? 1 : 0) }

    /// A shard ended: its documents and tokens when it ran, an error outcome when the task could not run.
    func shardFinished(_ outcome: Result<ShardResult, ShardFailure>, elapsedMs: UInt64) {
        duration.recordMilliseconds(elapsedMs)
        switch outcome {
        case .success(let r):
            shardsOK.increment()
            documents.increment(by: Int64(r.documentCount))
            tokens.increment(by: Int64(clamping: r.tokenCount))
        case .failure(let f) where f.reason == ShardRunner.withdrawnReason:
            shardsWithdrawn.increment()
        case .failure:
            shardsError.increment()
        }
    }

    /// Every metric in Prometheus text format.
    public func exposition() -> String { registry.emitToString() }
}

/// The worker's routes: `/metrics` and `/healthz`.
public enum WorkerHTTP {
    /// `/metrics` from `metrics`, and `/healthz` answering `ok` while the process serves.
    public static func router(metrics: WorkerMetrics) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        return router
    }
}
