import Foundation

/// Runs the real `dojo` binary (or any program) and collects its output.
public enum ProcessRunner {
    public struct Output {
        public var status: Int32
        public var stdout: Data
        public var stderr: String
        public var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
        public var lines: [String] { stdoutText.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    }

    /// Runs the `dojo` binary with `arguments`.
    public static func dojo(_ arguments: [String], input: Data? = nil, environment: [String: String] = [:],
                            timeout: TimeInterval = 600) throws -> Output {
        try run(TestPaths.dojoBinary, arguments, input: input, environment: environment, timeout: timeout)
    }

    /// Runs `executable` with `arguments`, feeding `input` on stdin; waits at most `timeout` seconds.
    public static func run(_ executable: URL, _ arguments: [String], input: Data? = nil,
                           environment: [String: String] = [:], timeout: TimeInterval = 600) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        var stdout = Data(), stderr = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { stdout = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { stderr = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(input) }
        try inPipe.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        group.wait()
        return Output(status: process.terminationStatus, stdout: stdout, stderr: String(decoding: stderr, as: UTF8.self))
    }
}
