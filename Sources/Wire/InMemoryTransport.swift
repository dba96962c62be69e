import Foundation

/// The router end of an in-memory transport: the same multipart shape as a ROUTER socket
/// (`[peer id] + frames` in and out), with no sockets and no threads, for deterministic tests of
/// the broker loop. Dealers are made with `connect(routingId:)`.
///
/// Delivery is immediate and ordered. `receive(timeoutMs: 0)` never waits; a positive timeout
/// waits in real time (for tests that run a peer on another thread). Thread-safe.
public final class InMemoryRouter: Transport, @unchecked Sendable {
    private let inbox = InMemoryQueue()
    private let lock = NSLock()
    private var peers: [Data: InMemoryDealer] = [:]

    public init() {}

    /// A new dealer connected to this router. A dealer already using `routingId` is replaced
    /// (like ROUTER_HANDOVER): messages for that id go to the new one.
    public func connect(routingId: Data) -> InMemoryDealer {
        precondition(!routingId.isEmpty, "routing id must not be empty")
        let dealer = InMemoryDealer(router: self, routingId: routingId)
        lock.withLock { peers[routingId] = dealer }
        return dealer
    }

    /// Routing ids of the connected dealers.
    public var connectedPeers: Set<Data> { lock.withLock { Set(peers.keys) } }

    /// Messages waiting to be received.
    public var pendingCount: Int { inbox.count }

    /// Send `[peer id] + frames` to a connected dealer; an unknown peer throws EHOSTUNREACH, like a
    /// ROUTER socket with ROUTER_MANDATORY.
    public func send(_ frames: [Data]) throws {
        precondition(frames.count >= 2, "a router message is [peer id] + at least one frame")
        guard let peer = lock.withLock({ peers[frames[0]] }) else {
            throw ZMQError(operation: "InMemoryRouter.send", code: EHOSTUNREACH)
        }
        peer.inbox.push(Array(frames.dropFirst()))
    }

    public func receive(timeoutMs: Int) throws -> [Data]? { inbox.pop(timeoutMs: timeoutMs) }

    func deliver(from dealer: InMemoryDealer, _ frames: [Data]) throws {
        guard lock.withLock({ peers[dealer.routingId] === dealer }) else {
            throw ZMQError(operation: "InMemoryDealer.send on disconnected dealer", code: ENOTCONN)
        }
        inbox.push([dealer.routingId] + frames)
    }

    func remove(_ dealer: InMemoryDealer) {
        lock.withLock { if peers[dealer.routingId] === dealer { peers[dealer.routingId] = nil } }
    }
}

/// The dealer end of an in-memory transport: sends and receives frames with no id frame.
public final class InMemoryDealer: Transport, @unchecked Sendable {
    public let routingId: Data
    let inbox = InMemoryQueue()
    private let router: InMemoryRouter

    init(router: InMemoryRouter, routingId: Data) {
        self.router = router
        self.routingId = routingId
    }

    /// Messages waiting to be received.
    public var pendingCount: Int { inbox.count }

    public func send(_ frames: [Data]) throws {
        precondition(!frames.isEmpty, "a message has at least one frame")
        try router.deliver(from: self, frames)
    }

    public func receive(timeoutMs: Int) throws -> [Data]? { inbox.pop(timeoutMs: timeoutMs) }

    /// Leave the router: its later sends to this id fail with EHOSTUNREACH (a dead worker, in tests).
    public func disconnect() { router.remove(self) }
}

/// A FIFO of multipart messages with a timed pop.
final class InMemoryQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [[Data]] = []
    private var head = 0

    var count: Int { condition.withLock { items.count - head } }

    func push(_ message: [Data]) {
        condition.withLock {
            items.append(message)
            condition.signal()
        }
    }

    func pop(timeoutMs: Int) -> [Data]? {
        condition.lock()
        defer { condition.unlock() }
        if timeoutMs != 0 {
            let deadline = timeoutMs < 0 ? Date.distantFuture : Date(timeIntervalSinceNow: Double(timeoutMs) / 1000)
            while head == items.count {
                if !condition.wait(until: deadline) { break }
            }
        }
        guard head < items.count else { return nil }
        let message = items[head]
        head += 1
        if head > 64 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        return message
    }
}
