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
    @Option(help: "Runs of each measurement; medians are printed, with the range when above 1 (this machine's neighbours move single runs).")
    var `repeat`: Int = 1
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
        guard `repeat` >= 1 else { throw CLIError("--repeat needs a positive number of runs") }
        var rng = SeededGenerator(seed: 1)
        func prompt(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(1000 + rng.next() % 40000) } }
        if !json {
            print("decoder \(URL(fileURLWithPath: model).lastPathComponent), \(threadCount) thread(s), load \(String(format: "%.2f", loadSeconds)) s, \(Kernels.simdPath), integer dots \(QuantMatmul.usesVNNI ? "AVX-512 VNNI" : "vpmaddubsw")")
        }

        // prompt processing: one sequence of pp tokens in one pass (llama-bench pp)
        let ppState = llama.makeState(slots: 1, context: pp + 1, batchTokens: pp, pool: pool)
        var ppRates: [Double] = []
        for _ in 0..<max(3, `repeat`) {
            ppState.clear()
            for (p, t) in prompt(pp).enumerated() { ppState.add(token: t, position: p, slot: 0, logits: p == pp - 1) }
            let t0 = Date()
            llama.forward(ppState)
            ppRates.append(Double(pp) / Date().timeIntervalSince(t0))
        }
        report("pp\(pp)", ["prompt_tokens_per_s": ppRates])

        // generation at each parallelism: short prompts, then tg tokens each, EOG ignored (llama-batched-bench)
        for n in levels {
            var runs: [String: [Double]] = [:]
            for _ in 0..<`repeat` {
                let state = llama.makeState(slots: n, context: 32 + tg + 1, batchTokens: max(512, n), pool: pool)
                let generator = Generator(model: llama, state: state)
                let requests = (0..<n).map { GenerationRequest(index: $0, prompt: prompt(32), maxTokens: tg, ignoreEOS: true) }
                let t0 = Date()
                _ = generator.generate(requests)
                let total = Date().timeIntervalSince(t0)
                let s = generator.stats
                let generated = Double(n * tg)
                runs["generated_tokens_per_s_per_sequence", default: []].append(generated / max(s.decodeSeconds, 1e-9) / Double(n))
                runs["aggregate_generated_tokens_per_s", default: []].append(generated / max(s.decodeSeconds, 1e-9))
                runs["aggregate_tokens_per_s_incl_prompt", default: []].append((generated + Double(s.promptTokens)) / total)
            }
            report("tg\(tg) x\(n)", runs)
        }
        report("memory", ["peak_rss_mb": [Double(peakRSSBytes()) / 1_048_576]])
    }

    /// Prints each measurement's median over its runs (and the range when there are several).
    func report(_ test: String, _ runs: [String: [Double]]) {
        func median(_ v: [Double]) -> Double {
            let s = v.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        let keys = runs.keys.sorted()
        if json {
            var fields = keys.map { "\"\($0)\":\(String(format: "%.2f", median(runs[$0]!)))" }
            if let n = runs.values.first?.count, n > 1 { fields.append("\"runs\":\(n)") }
            print("{\"test\":\"\(test)\",\(fields.joined(separator: ","))}")
        } else {
            print("  \(test.padding(toLength: 12, withPad: " ", startingAt: 0))" + keys.map { key in
                let v = runs[key]!
                let range = v.count > 1 ? String(format: " (%.1f–%.1f)", v.min()!, v.max()!) : ""
                return "\(key) \(String(format: "%.1f", median(v)))\(range)"
            }.joined(separator: ", "))
        }
    }

}
