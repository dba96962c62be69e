import Foundation
import Logging

/// A ZAP (ZeroMQ Authentication Protocol, RFC 27) handler that accepts CURVE clients whose public
/// key is in an allowed set and refuses everything else.
///
/// It binds a REP socket to `inproc://zeromq.zap.01` in the given context and answers requests on
/// its own thread. Start it **before** binding a CURVE server in the same context (without a
/// handler libzmq lets every client in). One handler per context. `stop()` (or deinit) ends the
/// thread and closes its socket.
public final class ZAPHandler: @unchecked Sendable {
    public static let endpoint = "inproc://zeromq.zap.01"

    private let lock = NSLock()
    private var allowed: Set<String>
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)
    private var running = false
    private let logger: Logger

    /// - Parameter allowedPublicKeys: Z85 public keys of the clients to let in.
    public init(context: ZMQContext, allowedPublicKeys: Set<String>,
                logger: Logger = Logger(label: "dojo.wire.zap")) throws {
        self.allowed = allowedPublicKeys
        self.logger = logger
        let socket = try context.socket(.rep)
        try socket.set(.linger(ms: 0))
        try socket.bind(ZAPHandler.endpoint)
        running = true
        // The socket is handed to the thread here (Thread.start is a memory barrier) and used only there.
        let thread = Thread { [self] in
            self.serve(socket)
            socket.close()
            self.finished.signal()
        }
        thread.name = "dojo.wire.zap"
        thread.start()
    }

    deinit { stop() }

    /// Replace the allowed keys (e.g. after the authorized-keys directory changed).
    public func setAllowedPublicKeys(_ keys: Set<String>) {
        lock.withLock { allowed = keys }
    }

    public var allowedPublicKeys: Set<String> { lock.withLock { allowed } }

    /// Stop answering and wait for the thread to end. Idempotent.
    public func stop() {
        let wasRunning: Bool = lock.withLock {
            stopping = true
            defer { running = false }
            return running
        }
        if wasRunning { finished.wait() }
    }

    private var shouldStop: Bool { lock.withLock { stopping } }

    private func serve(_ socket: ZMQSocket) {
        while !shouldStop {
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
    private func reply(to request: [Data]) -> [Data] {
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
        if allowedPublicKeys.contains(key) {
            logger.debug("ZAP accepted client", metadata: ["publicKey": "\(key)", "address": "\(address)"])
            return answer("200", "OK", userId: key)
        }
        logger.warning("ZAP refused unknown key", metadata: ["publicKey": "\(key)", "address": "\(address)"])
        return answer("400", "public key not authorized")
    }
}
