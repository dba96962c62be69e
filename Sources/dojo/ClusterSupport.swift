import ArgumentParser
import Coordinator
import Foundation
import Wire

/// Where the coordinator is and how to authenticate to it; shared by the client commands.
struct CoordinatorConnection: ParsableArguments {
    @Option(help: "Coordinator endpoint (default: $DOJO_COORDINATOR or tcp://127.0.0.1:5555).")
    var coordinator: String?
    @Option(help: "This client's CURVE secret key file (from dojo keygen; default: $DOJO_CURVE_SECRET).")
    var curveSecret: String?
    @Option(help: "The coordinator's CURVE public key file (default: $DOJO_SERVER_KEY).")
    var serverKey: String?
    @Option(help: "Seconds to wait for each reply.") var timeout = 30

    var endpoint: String {
        coordinator ?? ProcessInfo.processInfo.environment["DOJO_COORDINATOR"] ?? "tcp://127.0.0.1:5555"
    }

    var curve: (keys: CurveKeyPair, serverPublicKey: String)? {
        get throws {
            let env = ProcessInfo.processInfo.environment
            guard let secret = curveSecret ?? env["DOJO_CURVE_SECRET"] else { return nil }
            guard let server = serverKey ?? env["DOJO_SERVER_KEY"] else {
                throw CLIError("--curve-secret needs --server-key (the coordinator's .pub file)")
            }
            return (try KeyFiles.readSecret(secret), try KeyFiles.readPublic(server))
        }
    }

    /// A connected client; a refused CURVE key fails here rather than hanging.
    func client() throws -> (CoordinatorClient, ZMQContext, ZMQSocket) {
        let context = try ZMQContext()
        let socket = try context.socket(.dealer)
        try socket.set([.linger(ms: 0), .maxMessageSize(bytes: 1 << 31), .sendHighWaterMark(messages: 1_000)])
        var monitor: ZMQMonitor?
        if let curve = try curve {
            try socket.makeCurveClient(curve.keys, serverPublicKey: curve.serverPublicKey)
            monitor = try ZMQMonitor(socket, events: .handshake)
        }
        try socket.connect(endpoint)
        if let monitor {
            defer { monitor.stop() }
            switch try monitor.awaitHandshake(timeoutMs: timeout * 1000) {
            case .refused(let status):
                throw CLIError("the coordinator at \(endpoint) refused this client's CURVE key (ZAP status \(status)); ask its operator to add your .pub file to --authorized-keys")
            case .failed(let event):
                throw CLIError("CURVE handshake with \(endpoint) failed (\(event)); check --server-key")
            case .timedOut:
                throw CLIError("no CURVE handshake with \(endpoint) within \(timeout) s; is the coordinator running there?")
            case .succeeded:
                break
            }
        }
        return (CoordinatorClient(transport: socket, timeoutMs: timeout * 1000), context, socket)
    }
}

/// CURVE key files: NAME.key holds both keys, NAME.pub the public key alone (Z85, 40 characters).
enum KeyFiles {
    static func write(_ keys: CurveKeyPair, prefix: String) throws {
        let secretPath = prefix + ".key", publicPath = prefix + ".pub"
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw CLIError("\(path) exists; refusing to overwrite a key (remove it first)")
        }
        let secretText = "# Dojo CURVE key pair: keep this file secret.\npublic-key = \(keys.publicKey)\nsecret-key = \(keys.secretKey)\n"
        guard FileManager.default.createFile(atPath: secretPath, contents: Data(secretText.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw CLIError("\(secretPath): cannot write")
        }
        try (keys.publicKey + "\n").write(toFile: publicPath, atomically: true, encoding: .utf8)
    }

    static func readSecret(_ path: String) throws -> CurveKeyPair {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("\(path): cannot read the key file") }
        for line in text.split(separator: "\n") where line.hasPrefix("secret-key") {
            let key = value(of: line)
            guard CurveKeyPair.isValidKey(key) else { break }
            return try CurveKeyPair(secretKey: key)
        }
        throw CLIError("\(path): no valid 'secret-key = …' line; make key files with dojo keygen")
    }

    static func readPublic(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CLIError("\(path): cannot read the key file") }
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            let key = t.hasPrefix("public-key") ? value(of: Substring(t)) : t
            if CurveKeyPair.isValidKey(key) { return key }
        }
        throw CLIError("\(path): no Z85 public key (40 characters); make key files with dojo keygen")
    }

    /// What follows the first "=" of a `name = value` line (Z85 keys may contain "=" themselves).
    static func value(of line: Substring) -> String {
        guard let eq = line.firstIndex(of: "=") else { return "" }
        return line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
    }

    /// Every public key in a directory of .pub files.
    static func readDirectory(_ path: String) throws -> Set<String> {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
            throw CLIError("\(path): cannot read the authorized-keys directory")
        }
        return Set(try names.filter { $0.hasSuffix(".pub") }.map { try readPublic((path as NSString).appendingPathComponent($0)) })
    }
}

/// SIGINT/SIGTERM turn a flag on instead of killing the process, so loops can finish cleanly.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var sources: [DispatchSourceSignal] = []

    init() {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.lock.withLock { self?.stopped = true } }
            source.resume()
            sources.append(source)
        }
    }

    var isSet: Bool { lock.withLock { stopped } }
}

/// True for endpoints only this machine can reach.
func isLoopback(_ endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard endpoint.hasPrefix("tcp://") else { return false }
    let host = endpoint.dropFirst(6).split(separator: ":").dropLast().joined(separator: ":")
    return host.hasPrefix("127.") || host == "localhost" || host == "[::1]" || host == "::1"
}

/// This machine's name from gethostname(2). Foundation's `ProcessInfo.hostName` resolves it through
/// netlink and aborts the process where netlink sockets are refused (systemd's RestrictAddressFamilies).
func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    return String(cString: buffer)
}
