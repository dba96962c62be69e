import Foundation
import Logging

/// A ZAP (ZeroMQ Authentication Protocol, RFC 27) handler that accepts CURVE clients whose public
/// key is in an allowed set and refuses everything else (status 400, which the client's monitor
/// reports as `handshakeFailedAuth`).
///
/// It binds a REP socket to `inproc://zeromq.zap.01` in the given context and answers requests on
/// its own thread. Start it **before** binding a CURVE server in the same context (without a
/// handler libzmq lets every client in). One handler per context. `stop()` (or deinit) ends the
/// thread and closes its socket.
public final class ZAPHandler: @unchecked Sendable {
    public static let endpoint = "inproc://zeromq.zap.01"

    private let state: State

    /// - Parameter allowedPublicKeys: Z85 public keys of the clients to let in.
    public init(context: ZMQContext, allowedPublicKeys: Set<String>,
                logger: Logger = Logger(label: "dojo.wire.zap")) throws {
        let socket = try context.socket(.rep)
        try socket.bind(ZAPHandler.endpoint)
        let state = State(allowed: allowedPublicKeys, logger: logger)
        self.state = state
        // The socket is handed to the thread here (Thread.start is a memory barrier) and used only
        // there. The thread holds the state, not the handler, so dropping the handler stops it.
        let thread = Thread {
            state.serve(socket)
            // Unbind first: inproc unbind is synchronous, close is not, and a new handler may bind at once.
            try? socket.unbind(ZAPHandler.endpoint)
            socket.close()
            state.finished.signal()
        }
        thread.name = "dojo.wire.zap"
        thread.start()
    }

    deinit { stop() }

    /// Replace the allowed keys (e.g. after the authorized-keys directory changed).
    public func setAllowedPublicKeys(_ keys: Set<String>) {
        state.lock.withLock { state.allowed = keys }
    }

    public var allowedPublicKeys: Set<String> { state.lock.withLock { state.allowed } }

    /// Stop answering and wait for the thread to end (at most ~100 ms). Idempotent.
    public func stop() {
        let wasRunning: Bool = state.lock.withLock {
            defer { state.stopping = true }
            return !state.stopping
        }
        if wasRunning { state.finished.wait() }
    }

    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var allowed: Set<String>
        var stopping = false
        let finished = DispatchSemaphore(value: 0)
        let logger: Logger

        init(allowed: Set<String>, logger: Logger) {
            self.allowed = allowed
            self.logger = logger
        }

        func serve(_ socket: ZMQSocket) {
            while !lock.withLock({ stopping }) {
                do {
                    guard let request = try socket.receive(timeoutMs: 100) else { continue }
                    try socket.send(reply(to: request))
                } catch let error as ZMQError where error.isContextTerminated {
                    return
                } catch {
                    logger.error("ZAP handler error", metadata: ["error": "\(error)"])
                }
            }
        }

        /// Request frames: version, request id, domain, address, routing id, mechanism, credentials…
        /// Reply frames: version, request id, status code, status text, user id, metadata.
        func reply(to request: [Data]) -> [Data] {
            let requestId = request.count > 1 ? request[1] : Data()
            func answer(_ code: String, _ text: String, userId: String = "") -> [Data] {
                [Data("1.0".utf8), requestId, Data(code.utf8), Data(text.utf8), Data(userId.utf8), Data()]
            }
            guard request.count >= 6, request[0] == Data("1.0".utf8) else {
                logger.warning("malformed ZAP request", metadata: ["frames": "\(request.count)"])
                return answer("500", "malformed ZAP request")
            }
            let address = String(decoding: request[3], as: UTF8.self)
            let mechanism = String(decoding: request[5], as: UTF8.self)
            guard mechanism == "CURVE", request.count >= 7, request[6].count == 32, let key = Z85.encode(request[6]) else {
                logger.warning("ZAP refused non-CURVE client", metadata: ["mechanism": "\(mechanism)", "address": "\(address)"])
                return answer("400", "only CURVE clients are accepted")
            }
            if lock.withLock({ allowed.contains(key) }) {
                logger.debug("ZAP accepted client", metadata: ["publicKey": "\(key)", "address": "\(address)"])
                return answer("200", "OK", userId: key)
            }
            logger.warning("ZAP refused unknown key", metadata: ["publicKey": "\(key)", "address": "\(address)"])
            return answer("400", "public key not authorized")
        }
    }
}
