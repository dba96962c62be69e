import CZeroMQ
import Foundation

/// A libzmq context: owns the I/O threads and the `inproc://` namespace (the ZAP handler and socket
/// monitors live in the context of the sockets they serve).
///
/// The context is thread-safe. It is terminated when the last reference goes away; every socket
/// keeps its context alive, so termination happens after all sockets are closed.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    private let termLock = NSLock()
    private var terminated = false

    /// - Parameter ioThreads: libzmq I/O threads (1 handles ~1 GB/s).
    public init(ioThreads: Int32 = 1) throws {
        guard let h = zmq_ctx_new() else { throw ZMQError.last("zmq_ctx_new") }
        handle = h
        if zmq_ctx_set(h, ZMQ_IO_THREADS, ioThreads) != 0 {
            let error = ZMQError.last("zmq_ctx_set(ZMQ_IO_THREADS)")
            zmq_ctx_term(h)
            throw error
        }
    }

    /// Make blocking calls on all sockets of this context return `ETERM` (for shutting down threads
    /// that wait in `receive`). The context itself is terminated on deinit.
    public func shutdown() {
        zmq_ctx_shutdown(handle)
    }

    /// Create a socket of the given type.
    public func socket(_ type: ZMQSocketType) throws -> ZMQSocket {
        try ZMQSocket(context: self, type: type)
    }

    /// The libzmq version, e.g. (4, 3, 4).
    public static var version: (major: Int32, minor: Int32, patch: Int32) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (major, minor, patch)
    }

    /// Whether libzmq was built with a capability ("curve", "ipc", …).
    public static func has(_ capability: String) -> Bool { zmq_has(capability) != 0 }

    /// Terminates the context now: blocks until every socket is closed and their last messages are
    /// sent or their LINGER has passed. A process that exits right after closing a socket must call
    /// this, or a farewell message still queued in the I/O thread dies with the process.
    public func terminate() {
        termLock.lock(); defer { termLock.unlock() }
        guard !terminated else { return }
        terminated = true
        // Retries on EINTR.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    deinit {
        // Sockets are already closed because they hold a reference to us.
        terminate()
    }
}
