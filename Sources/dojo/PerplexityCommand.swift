import ArgumentParser
import Foundation
import Kernels
import Models

struct PerplexityCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Perplexity of a text file, computed as llama.cpp's llama-perplexity computes it.",
        discussion: """
            The tokens are cut into chunks of --context; each chunk is evaluated from position 0 and
            its second half (positions context/2 … context−2) scores the next tokens.
            """)

    @Option(help: "Model name (smollm2) or GGUF file.") var model: String
    @Option(help: "Text file (UTF-8).") var file: String
    @Option(help: "Tokens per chunk.") var context = 512
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "One JSON object instead of text.") var json = false

    func validate() throws {
        guard context >= 4 else { throw ValidationError("--context must be at least 4") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let llama = try loadDecoder(model)
        guard let data = FileManager.default.contents(atPath: file) else {
            throw CLIError("\(file): cannot read the text file; check the path")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CLIError("\(file): the text is not valid UTF-8; re-encode it as UTF-8")
        }
        guard context <= llama.config.contextLength else {
            throw CLIError("--context \(context) is larger than the model's context of \(llama.config.contextLength)")
        }
        let tokens = llama.tokenizer.encode(text, addSpecial: true)
        let pool = ThreadPool(threads: threads ?? ThreadPool.defaultThreadCount)
        let state = llama.makePerplexityState(context: context, pool: pool)
        let start = Date()
        let result = try llama.perplexity(tokens: tokens, context: context, state: state) { chunk, ppl in
            if !json { FileHandle.standardError.write("[\(chunk)]\(String(format: "%.4f", ppl)) ".data(using: .utf8)!) }
        }
        let seconds = Date().timeIntervalSince(start)
        if json {
            print(String(format: "{\"perplexity\":%.4f,\"error\":%.5f,\"chunks\":%d,\"scored_tokens\":%d,\"tokens\":%d,\"context\":%d,\"seconds\":%.2f}",
                         result.perplexity, result.standardError, result.chunks, result.scoredTokens, tokens.count, context, seconds))
        } else {
            FileHandle.standardError.write("\n".data(using: .utf8)!)
            print("\(tokens.count) tokens, \(result.chunks) chunks of \(context), \(result.scoredTokens) scored")
            print(String(format: "Final estimate: PPL = %.4f +/- %.5f", result.perplexity, result.standardError))
            print(String(format: "%.1f s, %.0f tokens/s", seconds, Double(result.chunks * context) / seconds))
        }
    }
}
