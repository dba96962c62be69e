import Foundation

/// Milliseconds from a monotonic source. The broker loop reads time only through this, so tests
/// drive it with a `ManualClock`.
public protocol MillisecondClock: Sendable {
    var nowMs: UInt64 { get }
}

/// Monotonic time since boot (not wall time: it never jumps with NTP).
public struct SystemClock: MillisecondClock {
    public init() {}
    public var nowMs: UInt64 { DispatchTime.now().uptimeNanoseconds / 1_000_000 }
}

/// A clock that moves only when told to. Thread-safe.
public final class ManualClock: MillisecondClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: UInt64

    public init(startMs: UInt64 = 0) { current = startMs }

    public var nowMs: UInt64 { lock.withLock { current } }

    public func advance(byMs delta: UInt64) { lock.withLock { current += delta } }

    /// Move to `ms`; moving backwards is a programmer error (clocks here are monotonic).
    public func set(toMs ms: UInt64) {
        lock.withLock {
            precondition(ms >= current, "ManualClock is monotonic")
            current = ms
        }
    }
}
