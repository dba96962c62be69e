import ArgumentParser
import DomainTasks
import Foundation
import Kernels
import Models

struct EmbedCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed JSONL documents ({\"id\", \"text\"}) with an encoder, optionally with a LoRA adapter.")

    @Option(help: "Model name (minilm) or Hugging Face encoder directory.") var model: String
    @Option(help: "PEFT LoRA adapter directory.") var adapter: String?
    @Option(help: "Input JSONL (default: stdin).") var input: String?
    @Option(help: "Output file (default: stdout). With --format npy: the .npy file; ids go to OUTPUT.ids.jsonl.") var output: String?
    @Option(help: "Sequences per forward pass.") var batch = 32
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "jsonl or npy.") var format: OutputFormat = .jsonl
    @Option(help: "Adapter scale (1 reproduces PEFT).") var adapterScale: Float = 1
    @Option(help: "f32 (matches sentence-transformers to 1e-4), or bf16: linear layers on bf16 operands with float32 sums, faster (README, Figures), within 2.5e-3 (needs AVX-512 BF16).")
    var precision: MatmulPrecision = .f32

    enum OutputFormat: String, ExpressibleByArgument { case jsonl, npy }

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if format == .npy && output == nil { throw ValidationError("--format npy needs --output FILE.npy") }
    }

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let encoder = try loadEncoder(model, precision: precision)
        let lora = try adapter.map { try encoder.loadAdapter(URL(fileURLWithPath: $0)) }
        lora?.userScale = adapterScale
        let pool = ThreadPool(threads: threads ?? ThreadPool.defaultThreadCount)
        let state = encoder.makeState(pool: pool)
        let reader = try LineReader(handle: openInput(input))
        let progress = Progress(label: "embedded", unit: "docs")

        let out: OutputSink = format == .npy
            ? try NpyEmbeddingSink(path: output!, width: encoder.dimension)
            : try JSONLEmbeddingSink(path: output)

        // Read a window of lines, embed them together, write them back in input order.
        let window = max(batch * 32, 1024)
        var done = 0
        while true {
            var entries: [Result<Document, DocumentError>] = []
            while entries.count < window, let line = reader.next() {
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                entries.append(DocumentParser.parse(line, lineNumber: reader.lineNumber))
            }
            if entries.isEmpty { break }
            var sequences: [[Int32]] = [], positions: [Int] = []
            for (i, entry) in entries.enumerated() {
                if case .success(let doc) = entry {
                    sequences.append(encoder.tokenize(doc.text).ids)
                    positions.append(i)
                }
            }
            var vectors = [Float](repeating: 0, count: sequences.count * encoder.dimension)
            let width = encoder.dimension
            vectors.withUnsafeMutableBufferPointer { buffer in
                encoder.embed(sequences, batch: batch, state: state, adapter: lora) { i, v in
                    (buffer.baseAddress! + i * width).update(from: v.baseAddress!, count: width)
                }
            }
            var next = 0
            for entry in entries {
                switch entry {
                case .success(let doc):
                    try vectors.withUnsafeBufferPointer { b in
                        try out.write(id: doc.id, vector: UnsafeBufferPointer(rebasing: b[next * width..<(next + 1) * width]))
                    }
                    next += 1
                case .failure(let error):
                    try out.writeError(error)
                }
            }
            done += entries.count
            progress.update(done)
        }
        try out.finish()
        progress.finish(done)
    }
}

/// Where embeddings go: JSONL records or a .npy matrix with an ids file.
protocol OutputSink {
    func write(id: DocumentID, vector: UnsafeBufferPointer<Float>) throws
    func writeError(_ error: DocumentError) throws
    func finish() throws
}

final class JSONLEmbeddingSink: OutputSink {
    let out: BufferedOutput
    init(path: String?) throws { out = try BufferedOutput(path: path) }
    func write(id: DocumentID, vector: UnsafeBufferPointer<Float>) throws {
        out.write("{\"id\":\(id.json),\"embedding\":\(JSONText.floats(vector))}\n")
    }
    func writeError(_ error: DocumentError) throws { out.write(error.record + "\n") }
    func finish() throws { out.flush() }
}

/// A float32 C-order .npy matrix; the row count is patched into the header at the end.
final class NpyEmbeddingSink: OutputSink {
    let handle: FileHandle
    let ids: BufferedOutput
    let width: Int
    var rows = 0
    static let headerLength = 128

    init(path: String, width: Int) throws {
        FileManager.default.createFile(atPath: path, contents: nil)
        guard let h = FileHandle(forWritingAtPath: path) else { throw CLIError("cannot write \(path)") }
        handle = h
        self.width = width
        ids = try BufferedOutput(path: path + ".ids.jsonl")
        handle.write(Self.header(rows: 0, width: width))
    }

    static func header(rows: Int, width: Int) -> Data {
        var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(width)), }"
        let prefix = 10
        dict += String(repeating: " ", count: headerLength - prefix - dict.utf8.count - 1) + "\n"
        var data = Data([0x93]) + "NUMPY".data(using: .ascii)! + Data([1, 0])
        let n = UInt16(dict.utf8.count)
        data.append(contentsOf: [UInt8(n & 0xff), UInt8(n >> 8)])
        data.append(dict.data(using: .ascii)!)
        return data
    }

    func write(id: DocumentID, vector: UnsafeBufferPointer<Float>) throws {
        handle.write(Data(buffer: vector))
        ids.write("{\"id\":\(id.json),\"row\":\(rows)}\n")
        rows += 1
    }
    func writeError(_ error: DocumentError) throws { ids.write(error.record + "\n") }
    func finish() throws {
        handle.seek(toFileOffset: 0)
        handle.write(Self.header(rows: rows, width: width))
        try handle.close()
        ids.flush()
    }
}
