import ArgumentParser
import Foundation
import Kernels
import Models

/// Decoder throughput, shaped like llama-bench (pp, tg) and llama-batched-bench (aggregate at -npl).
struct DecoderBench: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "decoder",
        abstract: "Decoder prompt tokens/s, generated tokens/s and aggregate tokens/s at each parallelism, peak RSS.")

    @Option(help: "Model name (smollm2) or GGUF file.") var model = "smollm2"
    @Option(help: "Prompt tokens per sequence.") var pp = 512
    @Option(help: "Tokens generated per sequence.") var tg = 128
    @Option(help: "Parallel sequences to measure, comma-separated.") var parallel = "1,4,16"
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "One JSON object per line instead of text.") var json = false

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let loadStart = Date()
        let llama = try loadDecoder(model)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let threadCount = threads ?? ThreadPool.defaultThreadCount
        let pool = ThreadPool(threads: threadCount)
        let levels = parallel.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        guard !levels.isEmpty else { throw CLIError("--parallel needs numbers, e.g. 1,4,16") }
        var rng = SeededGenerator(seed: 1)
        func prompt(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(1000 + rng.next() % 40000) } }
        if !json {
            print("decoder \(URL(fileURLWithPath: model).lastPathComponent), \(threadCount) thread(s), load \(String(format: "%.2f", loadSeconds)) s, \(Kernels.simdPath), integer dots \(QuantMatmul.usesVNNI ? "AVX-512 VNNI" : "vpmaddubsw")")
        }

        // prompt processing: one sequence of pp tokens in one pass (llama-bench pp)
        let ppState = llama.makeState(slots: 1, context: pp + 1, batchTokens: pp, pool: pool)
        var ppRates: [Double] = []
        for _ in 0..<3 {
            ppState.clear()
            for (p, t) in prompt(pp).enumerated() { ppState.add(token: t, position: p, slot: 0, logits: p == pp - 1) }
            let t0 = Date()
            llama.forward(ppState)
            ppRates.append(Double(pp) / Date().timeIntervalSince(t0))
        }
        let ppRate = ppRates.sorted()[1]
        report("pp\(pp)", ["prompt_tokens_per_s": ppRate])

        // generation at each parallelism: short prompts, then tg tokens each, EOG ignored (llama-batched-bench)
        for n in levels {
            let state = llama.makeState(slots: n, context: 32 + tg + 1, batchTokens: max(512, n), pool: pool)
            let generator = Generator(model: llama, state: state)
            let requests = (0..<n).map { GenerationRequest(index: $0, prompt: prompt(32), maxTokens: tg, ignoreEOS: true) }
            let t0 = Date()
            _ = generator.generate(requests)
            let total = Date().timeIntervalSince(t0)
            let s = generator.stats
            let generated = Double(n * tg)
            report("tg\(tg) x\(n)", ["generated_tokens_per_s_per_sequence": generated / max(s.decodeSeconds, 1e-9) / Double(n),
                                     "aggregate_generated_tokens_per_s": generated / max(s.decodeSeconds, 1e-9),
                                     "aggregate_tokens_per_s_incl_prompt": (generated + Double(s.promptTokens)) / total])
        }
        report("memory", ["peak_rss_mb": Double(peakRSSBytes()) / 1_048_576])
    }

    func report(_ test: String, _ values: [String: Double]) {
        if json {
            let body = values.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\(String(format: "%.2f", $0.value))" }.joined(separator: ",")
            print("{\"test\":\"\(test)\",\(body)}")
        } else {
            print("  \(test.padding(toLength: 12, withPad: " ", startingAt: 0))" + values.sorted { $0.key < $1.key }
                .map { "\($0.key) \(String(format: "%.1f", $0.value))" }.joined(separator: ", "))
        }
    }
}
