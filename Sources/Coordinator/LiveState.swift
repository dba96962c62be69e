// What only the broker loop knows (connected workers, their leases, when each was last heard),
// published as an immutable snapshot for the HTTP endpoint. The loop is single-threaded and must
// never wait for a reader: it swaps the snapshot in under a lock at most every 250 ms (a copy of
// the worker map is copy-on-write, so publishing costs a pointer until the loop next changes it);
// readers take the lock only long enough to copy that pointer out.
import Foundation
import Wire

/// The broker's live state at one moment.
public struct LiveSnapshot: Sendable {
    /// Connected workers by identity, with their leases.
    public var workers: [String: WorkerState]
    /// When it was published, on the broker's clock (nil before the loop first ran).
    public var publishedMs: UInt64?

    /// A snapshot of `workers` taken at `publishedMs`.
    public init(workers: [String: WorkerState] = [:], publishedMs: UInt64? = nil) {
        self.workers = workers; self.publishedMs = publishedMs
    }
}

/// The latest `LiveSnapshot`, written by the broker loop and read by any thread.
public final class LiveState: @unchecked Sendable {
    /// Longest time between two publications while the loop runs.
    public static let publishIntervalMs: UInt64 = 250

    /// The broker's clock: heartbeat ages are measured on it.
    public let clock: any MillisecondClock
    private let lock = NSLock()
    private var snapshot = LiveSnapshot()
    /// Touched only by the broker thread.
    private var nextPublishMs: UInt64 = 0

    /// Empty until the loop first publishes; ages are measured on `clock` (the broker's).
    public init(clock: any MillisecondClock) { self.clock = clock }

    /// The latest snapshot.
    public var current: LiveSnapshot { lock.withLock { snapshot } }

    /// Called by the broker loop every turn; publishes when the last publication is 250 ms old.
    func publishIfDue(workers: [String: WorkerState], nowMs: UInt64) {
        guard nowMs >= nextPublishMs else { return }
        nextPublishMs = nowMs + Self.publishIntervalMs
        let next = LiveSnapshot(workers: workers, publishedMs: nowMs)
        lock.withLock { snapshot = next }
    }

    /// Whether the loop has published within `ms` (it publishes every turn it is due, and turns at
    /// least every heartbeat interval): false means the loop is stuck or gone.
    public func loopAlive(withinMs ms: UInt64) -> Bool {
        guard let published = current.publishedMs else { return false }
        let now = clock.nowMs
        return now < published || now - published <= ms
    }
}
