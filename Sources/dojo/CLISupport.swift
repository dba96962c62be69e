import ArgumentParser
import Foundation
import Kernels
import Models

/// A command-line failure with a message for the user.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

extension MatmulPrecision: @retroactive ExpressibleByArgument {}

/// Refuses bf16 on a CPU without AVX-512 BF16, saying what to use instead.
func checkPrecision(_ precision: MatmulPrecision) throws {
    if precision == .bf16 && !GemmBF16.isSupported {
        throw CLIError("--precision bf16 needs a CPU with AVX-512 BF16 (avx512_bf16 in /proc/cpuinfo); this one has none: use --precision f32")
    }
}

/// Loads an encoder by name or directory.
func loadEncoder(_ name: String, precision: MatmulPrecision = .f32) throws -> SentenceEncoder {
    try checkPrecision(precision)
    return try SentenceEncoder(directory: ModelRegistry.resolve(name), precision: precision)
}

/// The input file, or stdin when none is given.
func openInput(_ path: String?) throws -> FileHandle {
    guard let path, path != "-" else { return FileHandle.standardInput }
    guard let handle = FileHandle(forReadingAtPath: path) else {
        throw CLIError("\(path): cannot open the input file; check the path and permissions")
    }
    return handle
}

/// Buffered writes to a file or stdout.
final class BufferedOutput {
    private let handle: FileHandle
    private var buffer = Data()

    init(path: String?) throws {
        if let path, path != "-" {
            guard FileManager.default.createFile(atPath: path, contents: nil),
                  let h = FileHandle(forWritingAtPath: path) else {
                throw CLIError("\(path): cannot create the output file; check the directory exists and is writable")
            }
            handle = h
        } else {
            handle = FileHandle.standardOutput
        }
        buffer.reserveCapacity(1 << 20)
    }

    func write(_ s: String) {
        buffer.append(contentsOf: s.utf8)
        if buffer.count >= 1 << 20 { flush() }
    }

    func write(_ data: Data) {
        buffer.append(data)
        if buffer.count >= 1 << 20 { flush() }
    }

    func flush() {
        if !buffer.isEmpty { handle.write(buffer); buffer.removeAll(keepingCapacity: true) }
    }

    deinit { flush() }
}

/// Progress on stderr, only when stderr is a terminal.
final class Progress {
    let label: String, unit: String
    let start = Date()
    var last = Date.distantPast
    let enabled = isatty(2) == 1

    init(label: String, unit: String) { self.label = label; self.unit = unit }

    func update(_ count: Int) {
        guard enabled, Date().timeIntervalSince(last) > 0.2 else { return }
        last = Date()
        let rate = Double(count) / max(Date().timeIntervalSince(start), 1e-9)
        FileHandle.standardError.write("\r\(label) \(count) \(unit), \(String(format: "%.1f", rate)) \(unit)/s   ".data(using: .utf8)!)
    }

    func finish(_ count: Int) {
        guard enabled else { return }
        let elapsed = Date().timeIntervalSince(start)
        FileHandle.standardError.write("\r\(label) \(count) \(unit) in \(String(format: "%.1f", elapsed)) s                \n".data(using: .utf8)!)
    }
}

/// Peak resident set size of this process in bytes (VmHWM).
func peakRSSBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}
