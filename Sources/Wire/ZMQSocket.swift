import CZeroMQ
import Foundation

/// A libzmq socket. Multipart messages are `[Data]`, one `Data` per frame.
///
/// **Not thread-safe.** Like the libzmq socket it wraps, each `ZMQSocket` must be used from one
/// thread at a time; hand it to another thread only with a full memory barrier (starting a thread,
/// a lock). Use one socket per thread, and `inproc://` pairs to talk between threads.
///
/// ROUTER sockets receive `[peer routing id] + frames` and send the same shape: the first frame
/// names the peer. DEALER sockets see only the frames. Dojo puts no empty delimiter frame between
/// them (that is REQ/REP's envelope, which we do not use).
///
/// The socket is closed on `close()` or deinit; it keeps its context alive until then. Sockets are
/// created with LINGER 0 (unsent messages are dropped on close, so shutdown never hangs); set
/// `.linger(ms:)` where a last message must be flushed.
public final class ZMQSocket {
    public let context: ZMQContext
    public let type: ZMQSocketType
    private(set) var handle: UnsafeMutableRawPointer?

    init(context: ZMQContext, type: ZMQSocketType) throws {
        guard let h = zmq_socket(context.handle, type.rawValue) else { throw ZMQError.last("zmq_socket") }
        self.context = context
        self.type = type
        self.handle = h
        // Like CZMQ: closing drops unsent messages instead of blocking context termination forever.
        try set(.linger(ms: 0))
    }

    deinit { close() }

    /// Close the socket; pending outgoing messages are kept for the LINGER period.
    public func close() {
        if let h = handle {
            zmq_close(h)
            handle = nil
        }
    }

    public var isClosed: Bool { handle == nil }

    private func open(_ operation: String) throws -> UnsafeMutableRawPointer {
        guard let h = handle else { throw ZMQError(operation: operation + " on closed socket", code: ENOTSOCK) }
        return h
    }

    // MARK: - Options

    public func set(_ option: ZMQSocketOption) throws {
        try option.apply(to: open("zmq_setsockopt"))
    }

    public func set(_ options: [ZMQSocketOption]) throws {
        for o in options { try set(o) }
    }

    /// The endpoint of the last `bind`, with wildcards resolved: `tcp://127.0.0.1:*` gives the port chosen.
    public func lastEndpoint() throws -> String {
        let h = try open("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
        var buffer = [CChar](repeating: 0, count: 1024)
        var size = buffer.count
        guard zmq_getsockopt(h, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
            throw ZMQError.last("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
        }
        return String(cString: buffer)
    }

    /// This socket's routing id (ZMQ_ROUTING_ID), empty when none was set.
    public func routingId() throws -> Data {
        let h = try open("zmq_getsockopt(ZMQ_ROUTING_ID)")
        var buffer = [UInt8](repeating: 0, count: 256)
        var size = buffer.count
        guard zmq_getsockopt(h, ZMQ_ROUTING_ID, &buffer, &size) == 0 else {
            throw ZMQError.last("zmq_getsockopt(ZMQ_ROUTING_ID)")
        }
        return Data(buffer.prefix(size))
    }

    // MARK: - Endpoints

    public func bind(_ endpoint: String) throws {
        guard zmq_bind(try open("zmq_bind"), endpoint) == 0 else { throw ZMQError.last("zmq_bind(\(endpoint))") }
    }

    public func connect(_ endpoint: String) throws {
        guard zmq_connect(try open("zmq_connect"), endpoint) == 0 else { throw ZMQError.last("zmq_connect(\(endpoint))") }
    }

    public func unbind(_ endpoint: String) throws {
        guard zmq_unbind(try open("zmq_unbind"), endpoint) == 0 else { throw ZMQError.last("zmq_unbind(\(endpoint))") }
    }

    public func disconnect(_ endpoint: String) throws {
        guard zmq_disconnect(try open("zmq_disconnect"), endpoint) == 0 else {
            throw ZMQError.last("zmq_disconnect(\(endpoint))")
        }
    }

    // MARK: - Send

    /// Send a multipart message. Blocks while the peer's queue is full (up to ZMQ_SNDTIMEO), unless
    /// `dontWait`; returns false when it would have blocked and nothing was sent.
    @discardableResult
    public func send(_ frames: [Data], dontWait: Bool) throws -> Bool {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        let h = try open("zmq_send")
        for (i, frame) in frames.enumerated() {
            var flags: Int32 = dontWait ? ZMQ_DONTWAIT : 0
            if i < frames.count - 1 { flags |= ZMQ_SNDMORE }
            while true {
                let rc = frame.withUnsafeBytes { zmq_send(h, $0.baseAddress, frame.count, flags) }
                if rc >= 0 { break }
                let error = ZMQError.last("zmq_send")
                if error.code == EINTR { continue }
                // libzmq queues all parts once the first is accepted, so only the first can hit EAGAIN.
                if error.isWouldBlock && i == 0 { return false }
                throw error
            }
        }
        return true
    }

    // MARK: - Receive

    /// Receive one multipart message, waiting up to `timeoutMs` (0 = don't wait, -1 = forever).
    /// Returns nil when nothing arrived in time.
    public func receive(timeoutMs: Int) throws -> [Data]? {
        if timeoutMs != 0 {
            let ready = try ZMQPoll.poll([ZMQPollItem(self, .readable)], timeoutMs: timeoutMs)
            if !ready[0].contains(.readable) { return nil }
        }
        return try receiveNow()
    }

    /// Receive a message if one is queued, without waiting.
    private func receiveNow() throws -> [Data]? {
        let h = try open("zmq_msg_recv")
        let msg = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
        defer { msg.deallocate() }
        var frames: [Data] = []
        while true {
            zmq_msg_init(msg)
            defer { zmq_msg_close(msg) }
            let rc = zmq_msg_recv(msg, h, ZMQ_DONTWAIT)
            if rc < 0 {
                let error = ZMQError.last("zmq_msg_recv")
                if error.code == EINTR { continue }
                // Parts of a message arrive together: EAGAIN can only happen before the first.
                if error.isWouldBlock && frames.isEmpty { return nil }
                throw error
            }
            let size = zmq_msg_size(msg)
            frames.append(size == 0 ? Data() : Data(bytes: zmq_msg_data(msg), count: size))
            if zmq_msg_more(msg) == 0 { return frames }
        }
    }
}

extension ZMQSocket: Transport {
    /// Blocking send (bounded by ZMQ_SNDTIMEO when set: it then throws a would-block `ZMQError`).
    public func send(_ frames: [Data]) throws {
        if try !send(frames, dontWait: false) {
            throw ZMQError(operation: "zmq_send", code: EAGAIN)
        }
    }
}
