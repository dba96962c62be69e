import CZeroMQ
import Foundation

/// The socket types Dojo uses.
public enum ZMQSocketType: Sendable {
    case router, dealer, pair, req, rep, pub, sub, push, pull

    var rawValue: Int32 {
        switch self {
        case .router: return ZMQ_ROUTER
        case .dealer: return ZMQ_DEALER
        case .pair: return ZMQ_PAIR
        case .req: return ZMQ_REQ
        case .rep: return ZMQ_REP
        case .pub: return ZMQ_PUB
        case .sub: return ZMQ_SUB
        case .push: return ZMQ_PUSH
        case .pull: return ZMQ_PULL
        }
    }
}

/// Socket options, typed. Set them before `bind`/`connect` (libzmq applies most options only to
/// connections made afterwards). Times are in milliseconds, sizes in bytes or messages as named.
public enum ZMQSocketOption: Sendable {
    /// Messages queued for sending per peer before the socket blocks or drops (ZMQ_SNDHWM; 0 = no limit).
    case sendHighWaterMark(messages: Int32)
    /// Messages queued for receiving per peer (ZMQ_RCVHWM; 0 = no limit).
    case receiveHighWaterMark(messages: Int32)
    /// Largest inbound message; a peer sending a bigger one is disconnected (ZMQ_MAXMSGSIZE; -1 = no limit).
    case maxMessageSize(bytes: Int64)
    /// How long close waits to flush queued messages (ZMQ_LINGER; -1 = forever, 0 = drop at once).
    case linger(ms: Int32)
    /// This socket's identity as seen by a ROUTER peer (ZMQ_ROUTING_ID, 1–255 bytes, not starting with 0).
    case routingId(Data)
    /// ROUTER: sending to an unknown peer fails with EHOSTUNREACH instead of dropping silently.
    case routerMandatory(Bool)
    /// ROUTER: a new connection with a routing id already in use takes it over (ZMQ_ROUTER_HANDOVER).
    case routerHandover(Bool)
    /// ZMTP heartbeats: send a PING every interval (ZMQ_HEARTBEAT_IVL; 0 = off).
    case heartbeatInterval(ms: Int32)
    /// ZMTP heartbeats: close the connection when no traffic for this long after a PING (ZMQ_HEARTBEAT_TIMEOUT).
    case heartbeatTimeout(ms: Int32)
    /// ZMTP heartbeats: ask the peer to time us out after this long (ZMQ_HEARTBEAT_TTL).
    case heartbeatTTL(ms: Int32)
    /// Blocking sends fail with EAGAIN after this long (ZMQ_SNDTIMEO; -1 = forever).
    case sendTimeout(ms: Int32)
    /// Queue messages only to completed connections (ZMQ_IMMEDIATE).
    case immediate(Bool)
    /// Time allowed for the ZMTP (and CURVE) handshake (ZMQ_HANDSHAKE_IVL; 0 = no limit).
    case handshakeInterval(ms: Int32)
    /// Reconnect delay after a dropped connection (ZMQ_RECONNECT_IVL; -1 = never reconnect).
    case reconnectInterval(ms: Int32)
    /// Upper bound for exponential reconnect backoff (ZMQ_RECONNECT_IVL_MAX; 0 = no backoff).
    case reconnectIntervalMax(ms: Int32)
    /// Act as CURVE server (needs `curveSecretKey`).
    case curveServer(Bool)
    /// Our CURVE public key, 40-character Z85.
    case curvePublicKey(String)
    /// Our CURVE secret key, 40-character Z85.
    case curveSecretKey(String)
    /// The server's CURVE public key (client side), 40-character Z85.
    case curveServerKey(String)
    /// The ZAP domain requests from this socket carry (ZMQ_ZAP_DOMAIN).
    case zapDomain(String)
    /// SUB: subscribe to a prefix.
    case subscribe(Data)

    func apply(to handle: UnsafeMutableRawPointer) throws {
        switch self {
        case .sendHighWaterMark(let v): try setInt(handle, ZMQ_SNDHWM, v, "ZMQ_SNDHWM")
        case .receiveHighWaterMark(let v): try setInt(handle, ZMQ_RCVHWM, v, "ZMQ_RCVHWM")
        case .maxMessageSize(let v):
            var value = v
            try check(zmq_setsockopt(handle, ZMQ_MAXMSGSIZE, &value, MemoryLayout<Int64>.size), "ZMQ_MAXMSGSIZE")
        case .linger(let v): try setInt(handle, ZMQ_LINGER, v, "ZMQ_LINGER")
        case .routingId(let id): try setBytes(handle, ZMQ_ROUTING_ID, id, "ZMQ_ROUTING_ID")
        case .routerMandatory(let on): try setInt(handle, ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "ZMQ_ROUTER_MANDATORY")
        case .routerHandover(let on): try setInt(handle, ZMQ_ROUTER_HANDOVER, on ? 1 : 0, "ZMQ_ROUTER_HANDOVER")
        case .heartbeatInterval(let v): try setInt(handle, ZMQ_HEARTBEAT_IVL, v, "ZMQ_HEARTBEAT_IVL")
        case .heartbeatTimeout(let v): try setInt(handle, ZMQ_HEARTBEAT_TIMEOUT, v, "ZMQ_HEARTBEAT_TIMEOUT")
        case .heartbeatTTL(let v): try setInt(handle, ZMQ_HEARTBEAT_TTL, v, "ZMQ_HEARTBEAT_TTL")
        case .sendTimeout(let v): try setInt(handle, ZMQ_SNDTIMEO, v, "ZMQ_SNDTIMEO")
        case .immediate(let on): try setInt(handle, ZMQ_IMMEDIATE, on ? 1 : 0, "ZMQ_IMMEDIATE")
        case .handshakeInterval(let v): try setInt(handle, ZMQ_HANDSHAKE_IVL, v, "ZMQ_HANDSHAKE_IVL")
        case .reconnectInterval(let v): try setInt(handle, ZMQ_RECONNECT_IVL, v, "ZMQ_RECONNECT_IVL")
        case .reconnectIntervalMax(let v): try setInt(handle, ZMQ_RECONNECT_IVL_MAX, v, "ZMQ_RECONNECT_IVL_MAX")
        case .curveServer(let on): try setInt(handle, ZMQ_CURVE_SERVER, on ? 1 : 0, "ZMQ_CURVE_SERVER")
        case .curvePublicKey(let k): try setZ85(handle, ZMQ_CURVE_PUBLICKEY, k, "ZMQ_CURVE_PUBLICKEY")
        case .curveSecretKey(let k): try setZ85(handle, ZMQ_CURVE_SECRETKEY, k, "ZMQ_CURVE_SECRETKEY")
        case .curveServerKey(let k): try setZ85(handle, ZMQ_CURVE_SERVERKEY, k, "ZMQ_CURVE_SERVERKEY")
        case .zapDomain(let d): try setBytes(handle, ZMQ_ZAP_DOMAIN, Data(d.utf8), "ZMQ_ZAP_DOMAIN")
        case .subscribe(let prefix): try setBytes(handle, ZMQ_SUBSCRIBE, prefix, "ZMQ_SUBSCRIBE")
        }
    }

    private func check(_ rc: Int32, _ name: String) throws {
        if rc != 0 { throw ZMQError.last("zmq_setsockopt(\(name))") }
    }

    private func setInt(_ h: UnsafeMutableRawPointer, _ option: Int32, _ value: Int32, _ name: String) throws {
        var v = value
        try check(zmq_setsockopt(h, option, &v, MemoryLayout<Int32>.size), name)
    }

    private func setBytes(_ h: UnsafeMutableRawPointer, _ option: Int32, _ value: Data, _ name: String) throws {
        let rc = value.withUnsafeBytes { zmq_setsockopt(h, option, $0.baseAddress, value.count) }
        try check(rc, name)
    }

    /// Z85 keys are passed as 41-byte NUL-terminated strings, which libzmq recognises as Z85.
    private func setZ85(_ h: UnsafeMutableRawPointer, _ option: Int32, _ key: String, _ name: String) throws {
        guard key.utf8.count == 40 else { throw ZMQError(operation: "zmq_setsockopt(\(name)): key must be 40 Z85 characters", code: EINVAL) }
        let rc = key.withCString { zmq_setsockopt(h, option, $0, 41) }
        try check(rc, name)
    }
}
