import Foundation

/// Real coordinator and worker processes on an ipc:// endpoint in a temporary directory, for end-to-end tests.
public final class ClusterHarness {
    public let directory: URL
    public var endpoint: String
    public var dataDirectory: URL { directory.appendingPathComponent("data") }
    public private(set) var coordinator: Process?
    public private(set) var workers: [String: Process] = [:]
    var coordinatorArguments: [String] = []
    var environment: [String: String]
    private var logCount = 0

    public init(_ name: String, environment: [String: String] = ["DOJO_TEST_TASKS": "1"]) {
        // Short: a Unix socket path must fit in 108 bytes.
        directory = URL(fileURLWithPath: "/tmp/dojo-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        endpoint = "ipc://\(directory.path)/coordinator.sock"
        self.environment = environment
    }

    deinit { stopAll() }

    /// Starts (or restarts) the coordinator with the same data directory.
    public func startCoordinator(_ extra: [String] = ["--heartbeat-ms", "200"]) throws {
        coordinatorArguments = extra
        coordinator = try launch(["coordinator", "--listen", endpoint, "--data", dataDirectory.path] + extra, log: "coordinator")
        try waitUntil(timeout: 20) { FileManager.default.fileExists(atPath: self.directory.appendingPathComponent("coordinator.sock").path) || !self.endpoint.hasPrefix("ipc://") }
    }

    /// Starts a worker with one thread.
    @discardableResult
    public func startWorker(_ name: String, _ extra: [String] = []) throws -> Process {
        let p = try launch(["worker", "--connect", endpoint, "--threads", "1", "--name", name] + extra, log: name)
        workers[name] = p
        return p
    }

    /// Restarts any worker that died (a crash-on-marker task kills them on purpose).
    public func reviveWorkers() throws {
        for (name, p) in workers where !p.isRunning { try startWorker(name) }
    }

    /// `dojo` with `--coordinator` pointing here.
    public func dojo(_ arguments: [String], input: Data? = nil, timeout: TimeInterval = 300) throws -> ProcessRunner.Output {
        try ProcessRunner.dojo(arguments + ["--coordinator", endpoint], input: input, environment: environment, timeout: timeout)
    }

    public func kill9(_ p: Process) {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    public func stopAll() {
        for p in workers.values where p.isRunning { p.terminate() }
        if let c = coordinator, c.isRunning { c.terminate() }
        for p in workers.values { p.waitUntilExit() }
        coordinator?.waitUntilExit()
    }

    /// Polls `condition` until it holds; throws after `timeout` seconds.
    public func waitUntil(timeout: TimeInterval, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return }
            usleep(100_000)
        }
        throw NSError(domain: "ClusterHarness", code: 1, userInfo: [NSLocalizedDescriptionKey: "condition not met within \(timeout) s; logs in \(directory.path)"])
    }

    /// The logs of a process, for failure messages.
    public func log(_ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent("\(name).log"), encoding: .utf8)) ?? ""
    }

    public func launch(_ arguments: [String], log name: String, executable: URL = TestPaths.dojoBinary) throws -> Process {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let logURL = directory.appendingPathComponent("\(name).log")
        if !FileManager.default.fileExists(atPath: logURL.path) { FileManager.default.createFile(atPath: logURL.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: logURL)
        handle.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return p
    }
}
