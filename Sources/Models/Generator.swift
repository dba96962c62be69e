// Batched generation with continuous batching (as llama.cpp's `llama-server` slots and vLLM's
// scheduler do): every forward pass carries one decode row for each sequence that is generating and
// fills the rest of the batch with prompt chunks of sequences still reading their prompt. A finished
// sequence leaves at once and the next request takes its slot.
import Foundation

/// One sequence to generate.
public struct GenerationRequest: Sendable {
    /// The caller's index for this request (results come back with it).
    public var index: Int
    public var prompt: [Int32]
    public var maxTokens: Int
    public var sampling: SamplingParameters
    /// Generation stops when the text contains one of these (it is cut before the match).
    public var stop: [String]
    /// Mask end-of-generation tokens instead of stopping on them.
    public var ignoreEOS: Bool

    public init(index: Int, prompt: [Int32], maxTokens: Int, sampling: SamplingParameters = .greedy,
                stop: [String] = [], ignoreEOS: Bool = false) {
        self.index = index; self.prompt = prompt; self.maxTokens = maxTokens
        self.sampling = sampling; self.stop = stop; self.ignoreEOS = ignoreEOS
    }
}

/// Why a sequence ended.
public enum FinishReason: String, Sendable {
    /// An end-of-generation token or a stop string.
    case stop
    /// max tokens, or the context is full.
    case length
}

public struct GenerationResult: Sendable {
    public var index: Int
    public var text: String
    /// Generated tokens; an end-of-generation token that stopped the sequence is not included.
    public var tokens: [Int32]
    public var finish: FinishReason
    public var promptTokens: Int
}

/// A request that cannot run.
public struct GenerationError: Error, Sendable, CustomStringConvertible {
    public var index: Int
    public var description: String
}

/// Counters of a run (for benchmarks and logs).
public struct GenerationStats: Sendable {
    public var forwardPasses = 0
    public var promptTokens = 0
    public var generatedTokens = 0
    public var promptSeconds = 0.0     // passes that carried only prompt rows
    public var decodeSeconds = 0.0     // passes that carried decode rows
}

/// Runs many requests through one model and run state.
public final class Generator {
    public let model: LlamaModel
    public let state: LlamaRunState
    public var adapter: DecoderLoRA?
    public private(set) var stats = GenerationStats()

    private struct Sequence {
        var request: GenerationRequest
        var sampler: Sampler
        var fed = 0                       // prompt tokens already in the cache
        var history: [Int32]              // prompt + generated
        var generated: [Int32] = []
        var text = ""
        var detokenizer: StreamingDetokenizer
        var position: Int { history.count - 1 }
    }

    public init(model: LlamaModel, state: LlamaRunState, adapter: DecoderLoRA? = nil) {
        self.model = model
        self.state = state
        self.adapter = adapter
    }

    /// Longest prompt a request may have: at least one generated token must fit in the context.
    public var maxPromptTokens: Int { state.context }

    /// Runs requests from `next` (called when a slot is free; nil = no more) until all are done,
    /// calling `emit` for each as it finishes, in finishing order.
    public func run(next: () -> GenerationRequest?,
                    emit: (Int, Result<GenerationResult, GenerationError>) -> Void) {
        var slots = [Sequence?](repeating: nil, count: state.slotCount)
        var exhausted = false
        var scratch: [Sampler.Candidate] = []
        var logitOwner = [Int](repeating: -1, count: state.maxLogitRows)
        let tokenizer = model.tokenizer
        let eog = tokenizer.endOfGeneration

        while true {
            // admit new requests into free slots
            for s in slots.indices where slots[s] == nil && !exhausted {
                while !exhausted {
                    guard let r = next() else { exhausted = true; break }
                    var prompt = r.prompt
                    if prompt.isEmpty, let bos = tokenizer.bos { prompt = [bos] }
                    if prompt.isEmpty {
                        emit(r.index, .failure(GenerationError(index: r.index, description: "the prompt is empty and the model has no BOS token to start from")))
                        continue
                    }
                    if prompt.count > maxPromptTokens {
                        emit(r.index, .failure(GenerationError(index: r.index, description: "the prompt has \(prompt.count) tokens, more than the context of \(state.context) tokens; shorten it or raise --context")))
                        continue
                    }
                    if r.maxTokens <= 0 {
                        emit(r.index, .success(GenerationResult(index: r.index, text: "", tokens: [], finish: .length, promptTokens: prompt.count)))
                        continue
                    }
                    var request = r
                    request.prompt = prompt
                    slots[s] = Sequence(request: request, sampler: Sampler(r.sampling, stream: UInt64(r.index)),
                                        history: prompt, detokenizer: tokenizer.makeStreamingDetokenizer())
                    break
                }
            }
            if slots.allSatisfy({ $0 == nil }) { break }

            // build the batch: decode rows first, then prompt chunks
            state.clear()
            var decodeRows = 0
            for s in slots.indices {
                guard let q = slots[s], q.fed == q.request.prompt.count else { continue }
                let i = state.add(token: q.history.last!, position: q.position, slot: s, logits: true)!
                logitOwner[i] = s
                decodeRows += 1
            }
            var promptRows = 0
            for s in slots.indices {
                guard var q = slots[s], q.fed < q.request.prompt.count else { continue }
                while q.fed < q.request.prompt.count && state.hasRoom(logits: true) {
                    let last = q.fed == q.request.prompt.count - 1
                    if let i = state.add(token: q.request.prompt[q.fed], position: q.fed, slot: s, logits: last) { logitOwner[i] = s }
                    q.fed += 1
                    promptRows += 1
                }
                // a sequence that just read its last prompt token samples from this pass; its
                // decode rows start with the next token, at position prompt.count
                slots[s] = q
                if !state.hasRoom(logits: true) { break }
            }

            let t0 = DispatchTime.now().uptimeNanoseconds
            model.forward(state, adapter: adapter)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            stats.forwardPasses += 1
            stats.promptTokens += promptRows
            if decodeRows > 0 { stats.decodeSeconds += seconds } else { stats.promptSeconds += seconds }

            // sample for every row that produced logits
            for i in 0..<state.logitRowCount {
                let s = logitOwner[i]
                guard var q = slots[s] else { continue }
                let token = q.sampler.sample(state.logits(i), count: state.vocabSize, recent: q.history[...],
                                             banned: q.request.ignoreEOS ? eog : [], scratch: &scratch)
                stats.generatedTokens += 1
                var finish: FinishReason?
                var cut = false
                if !q.request.ignoreEOS && eog.contains(token) {
                    finish = .stop
                } else {
                    q.generated.append(token)
                    q.history.append(token)
                    q.text += q.detokenizer.append(token)
                    if let at = Self.stopMatch(q.text, q.request.stop) {
                        q.text = String(q.text[..<at])
                        finish = .stop
                        cut = true
                    } else if q.generated.count >= q.request.maxTokens || q.history.count > state.context {
                        // the next token would need a cache position past the context
                        finish = .length
                    }
                }
                if let finish {
                    if !cut { q.text += q.detokenizer.finish() }
                    emit(q.request.index, .success(GenerationResult(index: q.request.index, text: q.text, tokens: q.generated,
                                                                     finish: finish, promptTokens: q.request.prompt.count)))
                    slots[s] = nil
                } else {
                    slots[s] = q
                }
            }
        }
    }

    /// Where the earliest stop string starts in `text`, if any occurs.
    static func stopMatch(_ text: String, _ stops: [String]) -> String.Index? {
        var best: String.Index?
        for s in stops where !s.isEmpty {
            if let r = text.range(of: s), best == nil || r.lowerBound < best! { best = r.lowerBound }
        }
        return best
    }

    /// Generates for `requests` and returns results in request order (a convenience for tests and tools).
    public func generate(_ requests: [GenerationRequest]) -> [Result<GenerationResult, GenerationError>] {
        var results = [Result<GenerationResult, GenerationError>?](repeating: nil, count: requests.count)
        var iterator = requests.enumerated().makeIterator()
        var position: [Int: Int] = [:]
        run(next: {
            guard let (i, r) = iterator.next() else { return nil }
            position[r.index] = i
            return r
        }, emit: { index, result in results[position[index]!] = result })
        return results.map { $0! }
    }
}
