import Foundation
import Kernels
import Models

/// `generate`: each document filled into a prompt template and completed by a GGUF decoder, the
/// documents of a shard decoded together.
///
/// Params: `prompt` (template; `{text}` is the document, `{id}` its id; default `{text}`), `chat`
/// (use the model's chat template; default true when the model has one), `system`, `max_tokens`
/// (128), `temperature` (0 = greedy), `top_k` (40), `top_p` (0.95), `min_p` (0.05),
/// `repeat_penalty` (1), `seed` (0), `stop` (a string or a list), `parallel` (4), `context` (2048).
/// The spec's `adapter` is a llama.cpp GGUF LoRA or a PEFT directory; `adapter_scale` scales it.
///
/// Output: `{"id", "text", "finish": "stop"|"length", "prompt_tokens", "generated_tokens",
/// "truncated"?}`; `truncated` says the document was cut from its end to fit the context.
public final class GenerateTask: DomainTask {
    let generator: TextGenerator
    let prompt: PromptTemplate

    public init(generator: TextGenerator, prompt: PromptTemplate) {
        self.generator = generator
        self.prompt = prompt
    }

    public func run(_ documents: [Document]) -> [TaskRecord] {
        var records: [TaskRecord] = []
        records.reserveCapacity(documents.count)
        var pending: [Document] = []
        var slots: [Int] = []
        for document in documents {
            if let problem = DocumentChecks.problem(document.text.unicodeScalars.map { $0 }) {
                records.append(.error(document.id, problem))
            } else {
                slots.append(records.count)
                records.append(TaskRecord(json: ""))
                pending.append(document)
            }
        }
        for ((slot, document), outcome) in zip(zip(slots, pending), generator.complete(pending, prompt: prompt)) {
            switch outcome {
            case .success(let c):
                var json = "{\"id\":\(document.id.json),\"text\":\(JSONText.quote(c.text)),\"finish\":\"\(c.finish)\""
                json += ",\"prompt_tokens\":\(c.promptTokens),\"generated_tokens\":\(c.generatedTokens)"
                if c.truncated { json += ",\"truncated\":true" }
                records[slot] = TaskRecord(json: json + "}", tokens: c.promptTokens + c.generatedTokens)
            case .failure(let f):
                records[slot] = .error(document.id, f.description)
            }
        }
        return records
    }

    /// The decoder settings a spec asks for, checked; `prefix` namespaces them inside other tasks (`summary_`).
    public static func settings(_ spec: JobSpec, prefix: String = "", source: String,
                                defaultMaxTokens: Int = 128) throws -> GenerationSettings {
        let maxTokens = spec.int(prefix + "max_tokens", default: defaultMaxTokens)
        guard maxTokens >= 1 && maxTokens <= 8192 else { throw SpecError(source, "params.\(prefix)max_tokens must be in 1...8192, not \(maxTokens)") }
        let temperature = Float(spec.double(prefix + "temperature", default: 0))
        guard temperature >= 0 else { throw SpecError(source, "params.\(prefix)temperature must be 0 or more") }
        let topP = Float(spec.double(prefix + "top_p", default: 0.95))
        guard topP > 0 && topP <= 1 else { throw SpecError(source, "params.\(prefix)top_p must be in (0, 1]") }
        let minP = Float(spec.double(prefix + "min_p", default: 0.05))
        guard minP >= 0 && minP < 1 else { throw SpecError(source, "params.\(prefix)min_p must be in [0, 1)") }
        let topK = spec.int(prefix + "top_k", default: 40)
        guard topK >= 0 else { throw SpecError(source, "params.\(prefix)top_k must be 0 (off) or more") }
        let penalty = Float(spec.double(prefix + "repeat_penalty", default: 1))
        guard penalty > 0 else { throw SpecError(source, "params.\(prefix)repeat_penalty must be positive") }
        let parallel = spec.int(prefix + "parallel", default: 4)
        guard parallel >= 1 && parallel <= 256 else { throw SpecError(source, "params.\(prefix)parallel must be in 1...256, not \(parallel)") }
        let context = spec.int(prefix + "context", default: 2048)
        guard context > maxTokens else {
            throw SpecError(source, "params.\(prefix)context (\(context)) must be larger than \(prefix)max_tokens (\(maxTokens))")
        }
        let sampling = SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP, repeatPenalty: penalty,
                                          seed: UInt64(max(spec.int(prefix + "seed", default: 0), 0)))
        return GenerationSettings(maxTokens: maxTokens, sampling: sampling, stop: spec.strings(prefix + "stop") ?? [],
                                  parallel: parallel, context: context)
    }

    /// The prompt a spec asks for; `{text}` must be in the template, or no document would reach the model.
    static func prompt(_ spec: JobSpec, source: String, hasChatTemplate: Bool) throws -> PromptTemplate {
        let template = spec.string("prompt") ?? "{text}"
        guard template.contains("{text}") else {
            throw SpecError(source, "params.prompt must contain {text} (where the document goes), e.g. \"Summarise:\\n{text}\"")
        }
        let chat = spec.bool("chat", default: hasChatTemplate)
        if chat && !hasChatTemplate {
            throw SpecError(source, "params.chat is true but the model has no chat template Dojo knows; set chat: false")
        }
        return PromptTemplate(template: template, system: spec.string("system"), chat: chat)
    }

    public static func validate(_ spec: JobSpec, source: String) throws {
        guard let name = spec.model else { throw SpecError(source, "task 'generate' needs a 'model' (a GGUF decoder, e.g. smollm2)") }
        let model: LlamaModel
        do { model = try LlamaModel(path: ModelRegistry.resolve(name).path) } catch {
            throw SpecError(source, "model: \(error)")
        }
        _ = try settings(spec, source: source)
        _ = try prompt(spec, source: source, hasChatTemplate: DecoderTextGenerator.hasChatTemplate(model))
        if let adapter = spec.adapter {
            do { _ = try DecoderLoRA.load(adapter, for: model) } catch { throw SpecError(source, "adapter: \(error)") }
        }
    }

    public static func make(_ spec: JobSpec, models: ModelProvider) throws -> GenerateTask {
        guard let name = spec.model else { throw SpecError("job spec", "task 'generate' needs a 'model'") }
        let model = try models.decoder(name)
        let lora = try spec.adapter.map { try DecoderLoRA.load($0, for: model) }
        lora?.userScale = Float(spec.double("adapter_scale", default: 1))
        let generator = DecoderTextGenerator(model: model, adapter: lora, pool: models.pool,
                                             settings: try settings(spec, source: "job spec"))
        return GenerateTask(generator: generator,
                            prompt: try prompt(spec, source: "job spec", hasChatTemplate: DecoderTextGenerator.hasChatTemplate(model)))
    }
}
