import CZeroMQ
import Foundation

/// A libzmq call failed: the operation, errno and libzmq's text for it.
public struct ZMQError: Error, Equatable, CustomStringConvertible {
    public var operation: String
    public var code: Int32
    public var message: String

    public init(operation: String, code: Int32) {
        self.operation = operation
        self.code = code
        self.message = String(cString: zmq_strerror(code))
    }

    /// The error of the libzmq call that just failed on this thread.
    static func last(_ operation: String) -> ZMQError { ZMQError(operation: operation, code: zmq_errno()) }

    /// The call would have blocked (non-blocking send/receive, or a send timeout expired).
    public var isWouldBlock: Bool { code == EAGAIN }
    /// A ROUTER with ROUTER_MANDATORY was asked to send to an unknown or disconnected peer.
    public var isHostUnreachable: Bool { code == EHOSTUNREACH }
    /// The context is shutting down; the socket should be closed.
    public var isContextTerminated: Bool { code == ZMQError.eterm }
    /// An endpoint string was malformed or named an unsupported transport.
    public var isInvalidEndpoint: Bool { code == EINVAL || code == EPROTONOSUPPORT }

    /// libzmq's ETERM (ZMQ_HAUSNUMERO + 53).
    static let eterm: Int32 = 156_384_712 + 53

    public var description: String { "\(operation) failed: \(message) (errno \(code))" }
}
