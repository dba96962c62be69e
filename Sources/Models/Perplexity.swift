// Perplexity as llama.cpp's `llama-perplexity` computes it (examples/perplexity, `perplexity()`):
// the tokens are cut into floor(n / context) chunks; each chunk is evaluated as its own sequence from
// position 0 (its first token replaced by BOS when the model adds one); the logits at positions
// context/2 … context−2 score the tokens after them; PPL = exp(mean negative log-likelihood).
import Foundation
import Kernels

public struct PerplexityResult: Sendable {
    public var perplexity: Double
    /// Standard error of the estimate, as llama.cpp prints it (±).
    public var standardError: Double
    public var chunks: Int
    public var scoredTokens: Int
    /// Perplexity after each chunk (llama.cpp's running figures).
    public var runningPerplexity: [Double]
}

extension LlamaModel {
    /// A run state sized for `perplexity(tokens:context:state:)`.
    public func makePerplexityState(context: Int, pool: ThreadPool) -> LlamaRunState {
        makeState(slots: 1, context: context, batchTokens: context, logitRows: max(context / 2, 1), pool: pool)
    }

    /// The perplexity of `tokens` in chunks of `context` tokens. Throws when there is not one full chunk.
    public func perplexity(tokens: [Int32], context: Int, state: LlamaRunState,
                           progress: ((Int, Double) -> Void)? = nil) throws -> PerplexityResult {
        guard context >= 4 else { throw ModelError.invalidInput("--context must be at least 4 for perplexity") }
        guard context <= state.context, context <= state.batchTokens else {
            throw ModelError.invalidInput("context \(context) is larger than the run state (\(state.context) positions)")
        }
        let chunks = tokens.count / context
        guard chunks > 0 else {
            throw ModelError.invalidInput("the text has \(tokens.count) tokens, fewer than one chunk of \(context); use a longer text or a smaller --context")
        }
        let first = context / 2
        let vocab = config.vocabSize
        var nll = 0.0, nll2 = 0.0, count = 0
        var running: [Double] = []
        for c in 0..<chunks {
            state.clear()
            for p in 0..<context {
                var token = tokens[c * context + p]
                if p == 0, tokenizer.addBOS, let bos = tokenizer.bos { token = bos }
                state.add(token: token, position: p, slot: 0, logits: p >= first && p < context - 1)
            }
            forward(state)
            for (i, p) in (first..<(context - 1)).enumerated() {
                let logits = state.logits(i)
                let target = Int(tokens[c * context + p + 1])
                var maxLogit = -Float.infinity
                for j in 0..<vocab { maxLogit = max(maxLogit, logits[j]) }
                var sum = 0.0
                for j in 0..<vocab { sum += exp(Double(logits[j] - maxLogit)) }
                let logProbability = Double(logits[target] - maxLogit) - log(sum)
                nll -= logProbability
                nll2 += logProbability * logProbability
                count += 1
            }
            running.append(exp(nll / Double(count)))
            progress?(c + 1, running.last!)
        }
        let mean = nll / Double(count)
        let variance = nll2 / Double(count) - mean * mean
        let error = count > 1 ? (max(variance, 0) / Double(count - 1)).squareRoot() : 0
        let ppl = exp(mean)
        return PerplexityResult(perplexity: ppl, standardError: ppl * error, chunks: chunks, scoredTokens: count,
                                runningPerplexity: running)
    }
}
