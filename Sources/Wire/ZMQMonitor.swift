import CZeroMQ
import Foundation

/// Socket events a `ZMQMonitor` can report (libzmq's ZMQ_EVENT_*).
public struct ZMQMonitorEvents: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let connected = ZMQMonitorEvents(rawValue: 0x0001)
    public static let connectDelayed = ZMQMonitorEvents(rawValue: 0x0002)
    public static let connectRetried = ZMQMonitorEvents(rawValue: 0x0004)
    public static let listening = ZMQMonitorEvents(rawValue: 0x0008)
    public static let bindFailed = ZMQMonitorEvents(rawValue: 0x0010)
    public static let accepted = ZMQMonitorEvents(rawValue: 0x0020)
    public static let acceptFailed = ZMQMonitorEvents(rawValue: 0x0040)
    public static let closed = ZMQMonitorEvents(rawValue: 0x0080)
    public static let closeFailed = ZMQMonitorEvents(rawValue: 0x0100)
    public static let disconnected = ZMQMonitorEvents(rawValue: 0x0200)
    public static let monitorStopped = ZMQMonitorEvents(rawValue: 0x0400)
    public static let handshakeFailedNoDetail = ZMQMonitorEvents(rawValue: 0x0800)
    public static let handshakeSucceeded = ZMQMonitorEvents(rawValue: 0x1000)
    public static let handshakeFailedProtocol = ZMQMonitorEvents(rawValue: 0x2000)
    /// The peer (its ZAP handler) refused our credentials; the event value is the ZAP status code.
    public static let handshakeFailedAuth = ZMQMonitorEvents(rawValue: 0x4000)

    public static let all = ZMQMonitorEvents(rawValue: 0xFFFF)
    public static let handshake: ZMQMonitorEvents = [.handshakeSucceeded, .handshakeFailedAuth,
                                                     .handshakeFailedProtocol, .handshakeFailedNoDetail]
}

/// One event from a socket monitor.
public struct ZMQMonitorEvent: Equatable, Sendable {
    public let event: ZMQMonitorEvents
    /// Event-specific: a file descriptor, an errno, a reconnect interval, or a ZAP status code.
    public let value: UInt32
    public let endpoint: String
}

/// How a connection's handshake ended, as seen by `ZMQMonitor.awaitHandshake`.
public enum ZMQHandshakeOutcome: Equatable, Sendable {
    case succeeded
    /// The server refused our CURVE key (ZAP status code, 400 for "not allowed").
    case refused(statusCode: UInt32)
    /// The handshake failed for another reason (protocol mismatch, wrong server key, …).
    case failed(ZMQMonitorEvent)
    /// No handshake finished within the timeout (server down, or silently dropping us).
    case timedOut
}

/// Watches a socket's connection events through `zmq_socket_monitor`, on a PAIR socket of the
/// same context. Create it before `connect`/`bind` so no event is missed.
///
/// A CURVE client uses it to tell "refused" from "still connecting": libzmq ≥ 4.3 reports a key
/// the server's ZAP handler refused as `handshakeFailedAuth`, while the socket itself just keeps
/// reconnecting. Like sockets, a monitor is used from one thread.
public final class ZMQMonitor {
    private let pair: ZMQSocket
    private weak var monitored: ZMQSocket?
    public let endpoint: String

    public init(_ socket: ZMQSocket, events: ZMQMonitorEvents = .all) throws {
        guard let h = socket.handle else { throw ZMQError(operation: "zmq_socket_monitor on closed socket", code: ENOTSOCK) }
        endpoint = "inproc://dojo.monitor.\(UUID().uuidString)"
        guard zmq_socket_monitor(h, endpoint, Int32(events.rawValue)) == 0 else {
            throw ZMQError.last("zmq_socket_monitor")
        }
        pair = try socket.context.socket(.pair)
        try pair.set(.linger(ms: 0))
        try pair.connect(endpoint)
        monitored = socket
    }

    deinit { stop() }

    /// Stop monitoring and close the monitor's socket.
    public func stop() {
        if let s = monitored, let h = s.handle { zmq_socket_monitor(h, nil, 0) }
        monitored = nil
        pair.close()
    }

    /// The next event, waiting up to `timeoutMs`; nil on timeout.
    public func next(timeoutMs: Int) throws -> ZMQMonitorEvent? {
        guard let frames = try pair.receive(timeoutMs: timeoutMs) else { return nil }
        guard frames.count == 2, frames[0].count == 6 else {
            throw ZMQError(operation: "zmq_socket_monitor: unexpected event layout (\(frames.count) frames)", code: EPROTO)
        }
        let b = [UInt8](frames[0])
        // Host byte order, as libzmq writes it (little-endian on every platform we build for).
        let event = UInt16(b[0]) | UInt16(b[1]) << 8
        let value = UInt32(b[2]) | UInt32(b[3]) << 8 | UInt32(b[4]) << 16 | UInt32(b[5]) << 24
        return ZMQMonitorEvent(event: ZMQMonitorEvents(rawValue: event), value: value,
                               endpoint: String(decoding: frames[1], as: UTF8.self))
    }

    /// Wait up to `timeoutMs` for the first handshake to finish, skipping other events.
    public func awaitHandshake(timeoutMs: Int, clock: MillisecondClock = SystemClock()) throws -> ZMQHandshakeOutcome {
        let deadline = clock.nowMs + UInt64(max(0, timeoutMs))
        while true {
            let now = clock.nowMs
            if now >= deadline { return .timedOut }
            guard let e = try next(timeoutMs: Int(deadline - now)) else { return .timedOut }
            switch e.event {
            case .handshakeSucceeded: return .succeeded
            case .handshakeFailedAuth: return .refused(statusCode: e.value)
            case .handshakeFailedProtocol, .handshakeFailedNoDetail: return .failed(e)
            default: continue
            }
        }
    }
}
