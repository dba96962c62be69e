import ArgumentParser
import DomainTasks
import Foundation
import Models

struct TokenizeCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Token ids of JSONL documents ({\"id\", \"text\"}) as the model sees them.")

    @Option(help: "Model name (minilm, smollm2), encoder directory or GGUF file.") var model: String
    @Option(help: "Input JSONL (default: stdin).") var input: String?
    @Option(help: "Output file (default: stdout).") var output: String?
    @Flag(help: "Also print the token strings.") var tokens = false

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        if isDecoderModel(model) { return try runGGUF() }
        let encoder = try loadEncoder(model)
        let reader = try LineReader(handle: openInput(input))
        let out = try BufferedOutput(path: output)
        while let line = reader.next() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            switch DocumentParser.parse(line, lineNumber: reader.lineNumber) {
            case .success(let doc):
                let (ids, truncated) = encoder.tokenize(doc.text)
                var record = "{\"id\":\(doc.id.json),\"ids\":\(JSONText.ints(ids))"
                if tokens { record += ",\"tokens\":[" + encoder.tokenizer.tokens(ids).map(JSONText.quote).joined(separator: ",") + "]" }
                if truncated { record += ",\"truncated\":true" }
                out.write(record + "}\n")
            case .failure(let error):
                out.write(error.record + "\n")
            }
        }
        out.flush()
    }

    /// A GGUF model's BPE tokenizer (special tokens parsed, BOS/EOS as its metadata asks).
    func runGGUF() throws {
        let file = try GGUFFile(path: ModelRegistry.resolve(model).path)
        let tokenizer = try BPETokenizer(gguf: file)
        let reader = try LineReader(handle: openInput(input))
        let out = try BufferedOutput(path: output)
        while let line = reader.next() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            switch DocumentParser.parse(line, lineNumber: reader.lineNumber) {
            case .success(let doc):
                let ids = tokenizer.encode(doc.text, addSpecial: true)
                var record = "{\"id\":\(doc.id.json),\"ids\":\(JSONText.ints(ids))"
                if tokens {
                    record += ",\"tokens\":[" + ids.map { JSONText.quote(tokenizer.tokens[Int($0)]) }.joined(separator: ",") + "]"
                }
                out.write(record + "}\n")
            case .failure(let error):
                out.write(error.record + "\n")
            }
        }
        out.flush()
    }
}
