// `dojo coordinator --http ADDR`: Prometheus metrics, a health check, a read-only JSON API and the
// dashboard, as a Hummingbird router (the CLI serves it). Handlers run on Swift concurrency threads
// beside the broker loop and never touch the broker: durable state comes from the store (WAL
// readers run beside the loop's writes), live state from the snapshot the loop publishes. The API
// carries job and worker metadata and counts only: never a document, never a result.
import Foundation
import Hummingbird
import Logging
import Wire

/// The coordinator's routes.
public enum CoordinatorHTTP {
    /// How stale the broker's snapshot may be before `/healthz` says the loop is stuck.
    public static let loopStaleMs: UInt64 = 30_000

    /// `/metrics`, `/healthz`, `/api/…` and the dashboard over a broker's store, live state and metrics.
    public static func router(store: JobStore, live: LiveState, metrics: CoordinatorMetrics) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ -> Response in
            guard store.isReadable() else { return text("store unreadable\n", status: .serviceUnavailable) }
            guard live.loopAlive(withinMs: loopStaleMs) else {
                return text("broker loop has not turned for \(loopStaleMs / 1000) s\n", status: .serviceUnavailable)
            }
            return text("ok\n")
        }
        router.get("/metrics") { _, _ -> Response in
            let body = try metrics.exposition(live: live.current, nowMs: live.clock.nowMs)
            return text(body, contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.get("/api/jobs") { _, _ -> Response in
            json(StatusDocument(jobs: try store.jobStatuses()))
        }
        router.get("/api/jobs/:id") { _, context -> Response in
            let id = context.parameters.get("id") ?? ""
            guard let job = try store.jobStatuses(jobId: id).first else {
                return json(APIError(error: "no job \(id)"), status: .notFound)
            }
            return json(job)
        }
        router.get("/api/workers") { _, _ -> Response in
            json(try workersDocument(store: store, live: live))
        }
        router.get("/api/throughput") { request, _ -> Response in
            let minutes = request.uri.queryParameters.get("minutes").flatMap { Int($0) } ?? 60
            let job = request.uri.queryParameters.get("job").map { String($0) }
            return json(try store.throughputSeries(jobId: job, minutes: minutes))
        }
        router.get("/") { _, _ -> Response in text(Dashboard.html, contentType: "text/html; charset=utf-8", page: true) }
        router.get("/dashboard.css") { _, _ -> Response in text(Dashboard.css, contentType: "text/css; charset=utf-8", page: true) }
        router.get("/dashboard.js") { _, _ -> Response in
            text(Dashboard.javascript, contentType: "text/javascript; charset=utf-8", page: true)
        }
        return router
    }

    /// Every worker the store has seen, live ones with their leases and heartbeat age.
    public static func workersDocument(store: JobStore, live: LiveState) throws -> WorkersDocument {
        let snapshot = live.current
        let nowMs = live.clock.nowMs
        return WorkersDocument(workers: try store.workers().map {
            WorkerStatus(record: $0, live: snapshot.workers[$0.info.identity], nowMs: nowMs)
        })
    }

    struct APIError: Codable { var error: String }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        do {
            let data = try encoder.encode(value)
            return Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(bytes: data)))
        } catch {
            return text("cannot encode the response: \(error)\n", status: .internalServerError)
        }
    }

    /// `page`: the dashboard's own files, which may load nothing from anywhere else (it works offline
    /// and a job name cannot smuggle in a script).
    static func text(_ body: String, contentType: String = "text/plain; charset=utf-8", status: HTTPResponse.Status = .ok,
                     page: Bool = false) -> Response {
        var headers: HTTPFields = [.contentType: contentType, .cacheControl: "no-store"]
        if page { headers[.contentSecurityPolicy] = "default-src 'self'; style-src 'self'; script-src 'self'" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
