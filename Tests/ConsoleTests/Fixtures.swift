import Coordinator
import Foundation

/// Status documents as the coordinator sends them, decoded by the same types the CLI uses.
enum Fixtures {
    static func job(_ id: String = "j000001", name: String = "embed", task: String = "embed", state: String = "running",
                    total: UInt64, done: UInt64, errors: UInt64 = 0, startedMs: UInt64? = 1_000_000,
                    finishedMs: UInt64? = nil, docsPerSecond: Double? = nil, etaSeconds: Double? = nil,
                    error: String? = nil) -> JobStatus {
        var o: [String: Any] = [
            "id": id, "name": name, "task": task, "state": state, "priority": 0, "created_ms": 999_000,
            "input_complete": true, "documents_total": total, "documents_done": done, "document_errors": errors,
            "tokens": 0, "bytes_raw": 0, "bytes_compressed": 0, "shards_total": 10, "shards_done": 5,
        ]
        o["started_ms"] = startedMs
        o["finished_ms"] = finishedMs
        o["documents_per_second"] = docsPerSecond
        o["eta_seconds"] = etaSeconds
        o["error"] = error
        return try! JSONDecoder().decode(JobStatus.self, from: JSONSerialization.data(withJSONObject: o))
    }

    static func worker(_ name: String, connected: Bool = true, shards: [String] = [], docsPerSecond: Double = 0,
                       heartbeatAgeMs: UInt64? = 200, shardsDone: UInt64 = 0, lastSeenMs: UInt64 = 5_000_000) -> WorkerStatus {
        var o: [String: Any] = [
            "identity": "id-" + name, "name": name, "connected": connected, "threads": 1, "cpu_features": [String](),
            "models": [String](), "adapters": [String](), "software_version": "test", "last_seen_ms": lastSeenMs,
            "documents_per_second": docsPerSecond, "tokens_per_second": 0, "shards_done": shardsDone,
            "leases": shards.count, "credits": 0, "current_shards": shards,
        ]
        o["heartbeat_age_ms"] = connected ? heartbeatAgeMs : nil
        return try! JSONDecoder().decode(WorkerStatus.self, from: JSONSerialization.data(withJSONObject: o))
    }
}
