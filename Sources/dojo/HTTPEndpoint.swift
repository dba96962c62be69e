// Serving a Hummingbird router beside a command's blocking loop (the broker's, the worker's):
// `--http HOST:PORT` parsing, start (waits until the port is bound, so errors reach the user
// before the loop starts), stop.
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// Why the HTTP endpoint could not start.
enum HTTPServerError: Error, Equatable, CustomStringConvertible {
    case badAddress(String)
    case cannotListen(address: String, reason: String)

    var description: String {
        switch self {
        case .badAddress(let a):
            return "--http \(a): expected HOST:PORT (127.0.0.1:8080, 0.0.0.0:9090, [::1]:8080 or :8080 for every interface)"
        case .cannotListen(let a, let why):
            return "cannot serve HTTP on \(a): \(why); is another process using that port?"
        }
    }
}

/// A host and port to bind, parsed from `HOST:PORT`.
struct HTTPAddress: Equatable, Sendable, CustomStringConvertible {
    var host: String
    var port: Int

    /// Parses `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (every interface).
    init(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65_535).contains(port) else { throw HTTPServerError.badAddress(text) }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    init(host: String, port: Int) { self.host = host; self.port = port }

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Runs a Hummingbird router on its own until `stop`, for the synchronous CLI commands.
final class HTTPEndpoint: @unchecked Sendable {
    private let lock = NSLock()
    private var group: ServiceGroup?
    private let finished = DispatchSemaphore(value: 0)

    init() {}

    /// Binds `address` and serves `router`; returns the port bound (the one asked for, or the
    /// system's pick for port 0) once the server accepts connections.
    func start(_ router: Router<BasicRequestContext>, address: HTTPAddress, logger: Logger) throws -> Int {
        let ready = DispatchSemaphore(value: 0)
        let outcome = LockedValue<Result<Int, HTTPServerError>?>(nil)
        let app = Application(router: router,
                              configuration: .init(address: .hostname(address.host, port: address.port), serverName: "dojo"),
                              onServerRunning: { channel in
                                  outcome.set(.success(channel.localAddress?.port ?? address.port))
                                  ready.signal()
                              },
                              logger: logger)
        // Signals stay with the command (its StopSignal); the group is shut down by `stop`.
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let finished = self.finished
        let task = Task.detached {
            do { try await group.run() } catch {
                if outcome.get() == nil {
                    outcome.set(.failure(.cannotListen(address: address.description, reason: "\(error)")))
                    ready.signal()
                } else {
                    logger.error("HTTP server stopped", metadata: ["error": "\(error)"])
                }
            }
            finished.signal()
        }
        lock.withLock { self.group = group }
        guard ready.wait(timeout: .now() + 60) == .success else {
            task.cancel()
            throw HTTPServerError.cannotListen(address: address.description, reason: "the server did not start within 60 s")
        }
        return try outcome.get()!.get()
    }

    /// Stops serving: open requests finish (the wait is at most 5 s).
    func stop() {
        guard let group = lock.withLock({ self.group }) else { return }
        Task.detached { await group.triggerGracefulShutdown() }
        _ = finished.wait(timeout: .now() + 5)
        lock.withLock { self.group = nil }
    }
}

/// A value shared between the starting thread and the server's tasks.
final class LockedValue<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func get() -> T { lock.withLock { value } }
    func set(_ new: T) { lock.withLock { value = new } }
}
