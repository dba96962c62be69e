import Foundation
import Kernels
import Models

/// Settings of a decoder run for a task: sampling, lengths, and how many documents decode at once.
public struct GenerationSettings: Sendable, Equatable {
    public var maxTokens: Int
    public var sampling: SamplingParameters
    public var stop: [String]
    /// Sequences decoded together (continuous batching over a shard's documents).
    public var parallel: Int
    /// Positions per sequence: prompt and answer together.
    public var context: Int

    public init(maxTokens: Int = 128, sampling: SamplingParameters = .greedy, stop: [String] = [], parallel: Int = 4,
                context: Int = 2048) {
        self.maxTokens = maxTokens; self.sampling = sampling; self.stop = stop
        self.parallel = parallel; self.context = context
    }
}

/// A GGUF decoder completing documents: prompts are built, cut to fit when a document is too long
/// (the completion says so), and decoded together on one generator.
public final class DecoderTextGenerator: TextGenerator {
    let model: LlamaModel
    let generator: Generator
    let chatTemplate: ChatTemplate?
    let settings: GenerationSettings
    /// Positions a prompt may take: the context less the answer's room.
    let promptBudget: Int

    public init(model: LlamaModel, adapter: DecoderLoRA?, pool: ThreadPool, settings: GenerationSettings) {
        self.model = model
        let context = min(max(settings.context, 2), model.config.contextLength)
        var s = settings
        s.context = context
        s.maxTokens = min(settings.maxTokens, context - 1)
        self.settings = s
        chatTemplate = try? ChatTemplate(gguf: model.file)
        let state = model.makeState(slots: max(settings.parallel, 1), context: context,
                                    batchTokens: max(512, settings.parallel), maxAdapterRank: max(adapter?.maxRank ?? 0, 1), pool: pool)
        generator = Generator(model: model, state: state, adapter: adapter)
        promptBudget = max(context - s.maxTokens, 1)
    }

    /// Whether `model` can format chat prompts (the job spec's `chat: true` needs it).
    public static func hasChatTemplate(_ model: LlamaModel) -> Bool { (try? ChatTemplate(gguf: model.file)) != nil }

    public func complete(_ documents: [Document], prompt: PromptTemplate) -> [Result<Completion, TaskFailure>] {
        var results = [Result<Completion, TaskFailure>?](repeating: nil, count: documents.count)
        var requests: [GenerationRequest] = []
        var truncated: [Int: Bool] = [:]
        for (i, document) in documents.enumerated() {
            switch tokens(for: document, prompt: prompt) {
            case .success(let (ids, cut)):
                truncated[i] = cut
                requests.append(GenerationRequest(index: i, prompt: ids, maxTokens: settings.maxTokens,
                                                  sampling: settings.sampling, stop: settings.stop))
            case .failure(let f):
                results[i] = .failure(f)
            }
        }
        for outcome in generator.generate(requests) {
            switch outcome {
            case .success(let r):
                results[r.index] = .success(Completion(text: r.text, finish: r.finish.rawValue, promptTokens: r.promptTokens,
                                                       generatedTokens: r.tokens.count, truncated: truncated[r.index] ?? false))
            case .failure(let e):
                results[e.index] = .failure(TaskFailure(e.description))
            }
        }
        return results.map { $0 ?? .failure(TaskFailure("no completion was produced")) }
    }

    /// The prompt's token ids, the document cut from its end (at most a few tries, each scaled by how
    /// far over the budget the last one was) until prompt and answer fit the context.
    func tokens(for document: Document, prompt: PromptTemplate) -> Result<([Int32], Bool), TaskFailure> {
        if prompt.chat && chatTemplate == nil {
            return .failure(TaskFailure("the model has no chat template Dojo knows; set chat: false in the job spec"))
        }
        var text = Substring(document.text)
        var cut = false
        let id = document.id.description
        var templateTokens: Int?  // the template's own tokens, counted once and only for a document that does not fit
        for _ in 0..<6 {
            let ids = model.tokenizer.encode(render(String(text), id: id, prompt: prompt), addSpecial: true)
            if ids.count <= promptBudget { return .success((ids, cut)) }
            let overhead = templateTokens ?? model.tokenizer.encode(render("", id: id, prompt: prompt), addSpecial: true).count
            templateTokens = overhead
            guard overhead < promptBudget, !text.isEmpty else { break }
            let keep = Double(promptBudget - overhead) / Double(max(ids.count - overhead, 1))
            text = text.prefix(max(Int(Double(text.count) * keep * 0.97) - 1, 0))
            cut = true
        }
        return .failure(TaskFailure("the prompt template alone does not fit the context of \(settings.context) tokens "
                                    + "with max_tokens \(settings.maxTokens); shorten the template or lower max_tokens"))
    }

    func render(_ text: String, id: String, prompt: PromptTemplate) -> String {
        let user = prompt.fill(text: text, id: id)
        guard prompt.chat, let chatTemplate else { return user }
        var messages: [ChatMessage] = []
        if let system = prompt.system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: user))
        return chatTemplate.render(messages)
    }
}
