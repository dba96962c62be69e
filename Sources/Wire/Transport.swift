import Foundation

/// The send/receive shape the broker loop needs, met by a real `ZMQSocket` and by
/// `InMemoryRouter`/`InMemoryDealer` for deterministic tests.
///
/// Messages are multipart `[Data]`. On a router-like transport the first frame is the peer's
/// routing id, on receive and on send; on a dealer-like transport there is no id frame.
/// Like the sockets, a transport is used from one thread at a time.
public protocol Transport: AnyObject {
    /// Send one multipart message. A router sending to an unknown peer throws a `ZMQError` whose
    /// `isHostUnreachable` is true (with ROUTER_MANDATORY set, for a real socket).
    func send(_ frames: [Data]) throws
    /// Receive one multipart message, waiting up to `timeoutMs` (0 = don't wait, -1 = forever);
    /// nil on timeout.
    func receive(timeoutMs: Int) throws -> [Data]?
}

extension Transport {
    /// Send a protocol message (dealer side: one frame).
    public func send(_ message: Message) throws {
        try send([message.encoded()])
    }

    /// Send a protocol message to a peer (router side: routing id frame, then the message).
    public func send(_ message: Message, to peer: Data) throws {
        try send([peer, message.encoded()])
    }
}
