import CZeroMQ
import Foundation

/// What to wait for on a socket, and what happened.
public struct ZMQPollEvents: OptionSet, Sendable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// A message can be received without blocking.
    public static let readable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// A message can be sent without blocking.
    public static let writable = ZMQPollEvents(rawValue: Int16(ZMQ_POLLOUT))
}

/// A socket and the events to wait for on it.
public struct ZMQPollItem {
    public let socket: ZMQSocket
    public let events: ZMQPollEvents

    public init(_ socket: ZMQSocket, _ events: ZMQPollEvents) {
        self.socket = socket
        self.events = events
    }
}

/// `zmq_poll` over several sockets.
public enum ZMQPoll {
    /// Wait up to `timeoutMs` (0 = don't wait, -1 = forever) until at least one item is ready.
    /// Returns the events that happened, one entry per item, in order; all empty on timeout.
    /// An interrupted wait (EINTR) returns all empty, like a timeout.
    public static func poll(_ items: [ZMQPollItem], timeoutMs: Int) throws -> [ZMQPollEvents] {
        var raw = try items.map { item -> zmq_pollitem_t in
            guard let h = item.socket.handle else { throw ZMQError(operation: "zmq_poll on closed socket", code: ENOTSOCK) }
            return zmq_pollitem_t(socket: h, fd: 0, events: item.events.rawValue, revents: 0)
        }
        let rc = zmq_poll(&raw, Int32(raw.count), timeoutMs)
        if rc < 0 {
            let error = ZMQError.last("zmq_poll")
            if error.code == EINTR { return Array(repeating: [], count: items.count) }
            throw error
        }
        return raw.map { ZMQPollEvents(rawValue: $0.revents) }
    }
}
