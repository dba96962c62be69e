import ArgumentParser
import DomainTasks
import Foundation
import Kernels
import Models

struct GenerateCommand: ParsableCommand, LoggingCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text for JSONL prompts ({\"id\", \"prompt\"}, or {\"id\", \"messages\"} with --chat) with a GGUF decoder.",
        discussion: """
            Output, one line per input line and in input order:
              {"id": …, "text": "…", "token_ids": […], "finish": "stop"|"length"}
            A line that cannot be used (not JSON, no prompt, a prompt longer than the context) gives
            {"id": …, "error": "…"} (or {"line": n, "error": "…"}) and the run goes on.
            Sampling is greedy unless --temperature is above 0; then top-k, top-p and min-p apply
            (llama.cpp's defaults 40, 0.95, 0.05) and --seed makes the draw repeatable.
            """)

    @Option(help: "Model name (smollm2) or GGUF file.") var model: String
    @Option(help: "LoRA adapter: a llama.cpp GGUF LoRA file or a PEFT adapter directory.") var adapter: String?
    @Option(help: "Adapter scale (1 applies the adapter as trained).") var adapterScale: Float = 1
    @Option(help: "Input JSONL (default: stdin).") var input: String?
    @Option(help: "Output file (default: stdout).") var output: String?
    @Option(help: "Most tokens to generate per prompt.") var maxTokens = 128
    @Option(help: "Sampling temperature; 0 = greedy.") var temperature: Float = 0
    @Option(help: "Top-p (nucleus) cut-off.") var topP: Float = 0.95
    @Option(help: "Top-k cut-off; 0 = none.") var topK = 40
    @Option(help: "Min-p cut-off; 0 = none.") var minP: Float = 0.05
    @Option(help: "Repetition penalty over the last 64 tokens; 1 = off.") var repeatPenalty: Float = 1
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 0
    @Option(name: .customLong("stop"), help: "Stop string (repeatable).") var stops: [String] = []
    @Flag(help: "Keep generating past end-of-generation tokens.") var ignoreEos = false
    @Flag(help: "Format \"messages\" (or \"prompt\" as one user turn) with the model's chat template.") var chat = false
    @Option(help: "Sequences generated at once.") var parallel = 8
    @Option(help: "Context per sequence in tokens (default: the model's, at most 4096).") var context: Int?
    @Option(help: "Threads (default: all cores).") var threads: Int?

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1") }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be 0 or more") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let context, context < 2 { throw ValidationError("--context must be at least 2") }
        guard temperature >= 0 else { throw ValidationError("--temperature must be 0 or more") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard minP >= 0 && minP < 1 else { throw ValidationError("--min-p must be in [0, 1)") }
        guard repeatPenalty > 0 else { throw ValidationError("--repeat-penalty must be positive") }
    }

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let llama = try loadDecoder(model)
        let template = chat ? try ChatTemplate(gguf: llama.file) : nil
        let lora = try adapter.map { try DecoderLoRA.load($0, for: llama) }
        lora?.userScale = adapterScale
        let pool = ThreadPool(threads: threads ?? ThreadPool.defaultThreadCount)
        let contextLength = min(context ?? min(llama.config.contextLength, 4096), llama.config.contextLength)
        let state = llama.makeState(slots: parallel, context: contextLength, batchTokens: max(512, parallel),
                                    maxAdapterRank: max(lora?.maxRank ?? 0, 1), pool: pool)
        let generator = Generator(model: llama, state: state, adapter: lora)
        let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                          repeatPenalty: repeatPenalty, seed: seed)
        let reader = try LineReader(handle: openInput(input))
        let out = try BufferedOutput(path: output)
        let progress = Progress(label: "generated", unit: "docs")

        // Results are written in input order: finished ones wait here until those before them are out.
        var pending: [Int: String] = [:]
        var ids: [Int: DocumentID] = [:]
        var nextToWrite = 0, lineIndex = 0, done = 0
        func finish(_ index: Int, _ record: String) {
            pending[index] = record
            while let r = pending.removeValue(forKey: nextToWrite) {
                out.write(r + "\n")
                nextToWrite += 1
                done += 1
            }
            progress.update(done)
        }

        generator.run(next: {
            while let line = reader.next() {
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                let index = lineIndex
                lineIndex += 1
                switch parsePrompt(line, lineNumber: reader.lineNumber, template: template) {
                case .failure(let error):
                    finish(index, error.record)
                case .success(let (id, text)):
                    ids[index] = id
                    let tokens = llama.tokenizer.encode(text, addSpecial: true)
                    return GenerationRequest(index: index, prompt: tokens, maxTokens: maxTokens, sampling: sampling,
                                             stop: stops, ignoreEOS: ignoreEos)
                }
            }
            return nil
        }, emit: { index, result in
            let id = ids.removeValue(forKey: index)!
            switch result {
            case .success(let r):
                finish(index, "{\"id\":\(id.json),\"text\":\(JSONText.quote(r.text)),\"token_ids\":\(JSONText.ints(r.tokens)),\"finish\":\"\(r.finish.rawValue)\"}")
            case .failure(let e):
                finish(index, errorRecord(id: id, line: 0, message: e.description))
            }
        })
        out.flush()
        progress.finish(done)
    }

    /// The id and prompt text of one input line: "prompt", or with --chat "messages" (or "prompt" as a user turn).
    func parsePrompt(_ line: Data, lineNumber: Int, template: ChatTemplate?) -> Result<(DocumentID, String), PromptError> {
        guard let template else {
            return DocumentParser.parse(line, lineNumber: lineNumber, field: "prompt").map { ($0.id, $0.text) }.mapError(PromptError.init)
        }
        // Chat: the line must be a JSON object; parse once for the id, then read the messages.
        let withText: Result<Document, DocumentError>
        if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any], object["messages"] != nil {
            var patched = object
            patched["prompt"] = ""
            guard let data = try? JSONSerialization.data(withJSONObject: patched) else {
                return .failure(PromptError(record: errorRecord(id: nil, line: lineNumber, message: "line could not be read")))
            }
            withText = DocumentParser.parse(data, lineNumber: lineNumber, field: "prompt")
            guard case .success(let doc) = withText else { return withText.map { ($0.id, $0.text) }.mapError(PromptError.init) }
            guard let list = object["messages"] as? [[String: Any]], !list.isEmpty else {
                return .failure(PromptError(record: errorRecord(id: doc.id, line: lineNumber, message: "\"messages\" must be a non-empty array of {\"role\", \"content\"} objects")))
            }
            var messages: [ChatMessage] = []
            for (i, m) in list.enumerated() {
                guard let role = m["role"] as? String, let content = m["content"] as? String else {
                    return .failure(PromptError(record: errorRecord(id: doc.id, line: lineNumber, message: "message \(i) needs string \"role\" and \"content\"")))
                }
                messages.append(ChatMessage(role: role, content: content))
            }
            return .success((doc.id, template.render(messages)))
        }
        return DocumentParser.parse(line, lineNumber: lineNumber, field: "prompt").map {
            ($0.id, template.render([ChatMessage(role: "user", content: $0.text)]))
        }.mapError(PromptError.init)
    }
}

/// An input line that gives an error record instead of a request.
struct PromptError: Error {
    let record: String
    init(record: String) { self.record = record }
    init(_ error: DocumentError) { record = error.record }
}

/// `{"id": …, "error": …}`, or `{"line": n, "error": …}` without an id (as DocumentError.record writes them).
func errorRecord(id: DocumentID?, line: Int, message: String) -> String {
    let key = id.map { "\"id\":\($0.json)" } ?? "\"line\":\(line)"
    return "{\(key),\"error\":\(JSONText.quote(message))}"
}

/// Loads a GGUF decoder by name (smollm2) or path.
func loadDecoder(_ name: String) throws -> LlamaModel {
    try LlamaModel(path: ModelRegistry.resolve(name).path)
}

/// Whether a model argument names a GGUF decoder rather than an encoder directory.
func isDecoderModel(_ name: String) -> Bool {
    if name.lowercased().hasSuffix(".gguf") { return true }
    guard let url = try? ModelRegistry.resolve(name) else { return false }
    return url.pathExtension.lowercased() == "gguf"
}
