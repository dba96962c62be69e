import ArgumentParser
import DomainTasks
import Foundation
import Kernels
import Models

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput (figures for the README; not tests).",
        subcommands: [EncoderBench.self, DecoderBench.self, GemmBench.self, ClusterBench.self, ScaleBench.self])
}

struct EncoderBench: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "encoder",
        abstract: "Encoder sentences/s, tokens/s, median batch latency and peak RSS.")

    @Option(help: "Model name or directory.") var model = "minilm"
    @Option(help: "Sentences per batch.") var batch = 32
    @Option(help: "Tokens per sentence for synthetic input ([CLS] and [SEP] included).") var seq = 128
    @Option(help: "JSONL sentences to use instead of synthetic ones, in file order.") var input: String?
    @Option(help: "Repeat the input file this many times.") var `repeat` = 16
    @Option(help: "Batches to time for synthetic input.") var batches = 12
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "PEFT LoRA adapter directory.") var adapter: String?
    @Option(help: "f32, or bf16: linear layers on bf16 operands with float32 sums (faster, ~1e-3 off; needs AVX-512 BF16).")
    var precision: MatmulPrecision = .f32
    @Flag(help: "One JSON object instead of text.") var json = false

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let encoder = try loadEncoder(model, precision: precision)
        let lora = try adapter.map { try encoder.loadAdapter(URL(fileURLWithPath: $0)) }
        let threadCount = threads ?? ThreadPool.defaultThreadCount
        let pool = ThreadPool(threads: threadCount)
        let state = encoder.makeState(pool: pool)

        var sequences: [[Int32]] = []
        if let input {
            let reader = try LineReader(handle: openInput(input))
            var texts: [String] = []
            while let line = reader.next() {
                if case .success(let doc) = DocumentParser.parse(line, lineNumber: reader.lineNumber) { texts.append(doc.text) }
            }
            let once = texts.map { encoder.tokenize($0).ids }
            for _ in 0..<max(`repeat`, 1) { sequences += once }
        } else {
            var rng = SystemRandomNumberGenerator()
            let length = min(max(seq, 2), encoder.maxLength)
            for _ in 0..<(batch * batches) {
                var ids: [Int32] = [101]
                for _ in 0..<(length - 2) { ids.append(Int32.random(in: 1000..<Int32(encoder.config.vocabSize), using: &rng)) }
                ids.append(102)
                sequences.append(ids)
            }
        }
        guard !sequences.isEmpty else { throw CLIError("no sentences to run") }

        // Warm up: touch the weights and grow the buffers once.
        encoder.embed(Array(sequences.prefix(batch)), batch: batch, state: state, adapter: lora) { _, _ in }

        var latencies: [Double] = []
        let start = DispatchTime.now().uptimeNanoseconds
        var i = 0
        while i < sequences.count {
            let chunk = Array(sequences[i..<min(i + batch, sequences.count)])
            let t0 = DispatchTime.now().uptimeNanoseconds
            encoder.embed(chunk, batch: batch, state: state, adapter: lora) { _, _ in }
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            i += batch
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let tokens = sequences.reduce(0) { $0 + $1.count }
        latencies.sort()
        let median = latencies[latencies.count / 2]
        let sentencesPerSecond = Double(sequences.count) / seconds
        let tokensPerSecond = Double(tokens) / seconds
        let rssMB = Double(peakRSSBytes()) / 1_048_576
        let shape = input == nil ? "seq \(seq)" : "\(URL(fileURLWithPath: input!).lastPathComponent) ×\(`repeat`), file order"
        if json {
            print(String(format: "{\"sentences_per_s\":%.2f,\"tokens_per_s\":%.1f,\"median_batch_ms\":%.2f,\"peak_rss_mb\":%.1f,\"threads\":%d,\"batch\":%d,\"sentences\":%d,",
                         sentencesPerSecond, tokensPerSecond, median, rssMB, threadCount, batch, sequences.count)
                  + "\"precision\":\"\(precision.rawValue)\"}")
        } else {
            print("encoder \(encoder.directory.lastPathComponent), \(shape), batch \(batch), \(threadCount) thread(s), "
                  + "\(precision.rawValue)\(lora == nil ? "" : ", adapter")")
            print(String(format: "  sentences/s  %.1f", sentencesPerSecond))
            print(String(format: "  tokens/s     %.0f", tokensPerSecond))
            print(String(format: "  median batch %.1f ms", median))
            print(String(format: "  peak RSS     %.0f MB", rssMB))
        }
    }
}

struct GemmBench: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GFLOP/s of the GEMM on the encoder's shapes.")

    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "f32, or bf16 (operands rounded to bf16, float32 sums; needs AVX-512 BF16).")
    var precision: MatmulPrecision = .f32

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let threadCount = threads ?? ThreadPool.defaultThreadCount
        try checkPrecision(precision)
        for (m, n, k) in [(4096, 1536, 384), (4096, 384, 1536), (4096, 384, 384), (300, 384, 384)] {
            let gflops = Gemm.benchmark(m: m, n: n, k: k, threads: threadCount, iterations: m >= 4096 ? 10 : 200,
                                        precision: precision)
            print("gemm \(precision.rawValue) " + String(format: "m=%d n=%d k=%d, %d thread(s): %.1f GFLOP/s", m, n, k,
                                                               threadCount, gflops))
        }
    }
}
