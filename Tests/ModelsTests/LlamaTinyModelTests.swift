import Foundation
import Kernels
import Models
import TestSupport
import XCTest

/// A random-weight Llama GGUF written by the tests: config errors, and the forward pass's own
/// consistency (decoding through the KV cache gives what one prefill gives; batching changes nothing).
final class LlamaTinyModelTests: XCTestCase {
    static let vocab = ["<unk>", "<s>", "</s>", "▁", "a", "b", "c", "d", "▁a", "▁b", "▁c", "▁d", "ab", "cd", "▁ab", "▁cd"]

    /// A tiny Llama: 2 layers, dim 32, 4 heads over 2 KV heads, SentencePiece vocabulary of 16.
    static func tinyModel(architecture: String = "llama", dropping: String? = nil, chatTemplate: String? = nil,
                          quantizeQ8: Bool = true) throws -> URL {
        let dim = 32, hidden = 64, heads = 4, kvHeads = 2, layers = 2, n = vocab.count
        let kvDim = dim / heads * kvHeads
        var w = GGUFWriter()
        var meta: [(String, GGUFValue)] = [
            ("general.architecture", .string(architecture)),
            ("\(architecture).block_count", .uint32(UInt32(layers))),
            ("\(architecture).embedding_length", .uint32(UInt32(dim))),
            ("\(architecture).feed_forward_length", .uint32(UInt32(hidden))),
            ("\(architecture).attention.head_count", .uint32(UInt32(heads))),
            ("\(architecture).attention.head_count_kv", .uint32(UInt32(kvHeads))),
            ("\(architecture).attention.layer_norm_rms_epsilon", .float32(1e-5)),
            ("\(architecture).rope.freq_base", .float32(10000)),
            ("\(architecture).context_length", .uint32(64)),
            ("tokenizer.ggml.model", .string("llama")),
            ("tokenizer.ggml.tokens", .array(.string(vocab))),
            ("tokenizer.ggml.scores", .array(.float32((0..<n).map { Float(-$0) }))),
            ("tokenizer.ggml.token_type", .array(.int32([2, 3, 3] + [Int32](repeating: 1, count: n - 3)))),
            ("tokenizer.ggml.bos_token_id", .uint32(1)),
            ("tokenizer.ggml.eos_token_id", .uint32(2)),
        ]
        if let chatTemplate { meta.append(("tokenizer.chat_template", .string(chatTemplate))) }
        for (k, v) in meta where k != dropping { w.add(k, v) }
        var rng = Models.SeededGenerator(seed: 7)
        func random(_ count: Int, scale: Float) -> [Float] {
            (0..<count).map { _ in Float(rng.nextUnit() * 2 - 1) * scale }
        }
        func matrix(_ name: String, out: Int, in k: Int) {
            let values = random(out * k, scale: 1 / Float(k).squareRoot())
            if quantizeQ8 { w.addTensor(name, type: .q8_0, dims: [k, out], data: q8_0(values)) } else { w.addTensor(name, dims: [k, out], floats: values) }
        }
        matrix("token_embd.weight", out: n, in: dim)
        for l in 0..<layers {
            let p = "blk.\(l)."
            w.addTensor(p + "attn_norm.weight", dims: [dim], floats: random(dim, scale: 0.2).map { 1 + $0 })
            matrix(p + "attn_q.weight", out: dim, in: dim)
            matrix(p + "attn_k.weight", out: kvDim, in: dim)
            matrix(p + "attn_v.weight", out: kvDim, in: dim)
            if architecture == "qwen2" {
                w.addTensor(p + "attn_q.bias", dims: [dim], floats: random(dim, scale: 0.5))
                w.addTensor(p + "attn_k.bias", dims: [kvDim], floats: random(kvDim, scale: 0.5))
                w.addTensor(p + "attn_v.bias", dims: [kvDim], floats: random(kvDim, scale: 0.5))
            }
            matrix(p + "attn_output.weight", out: dim, in: dim)
            w.addTensor(p + "ffn_norm.weight", dims: [dim], floats: random(dim, scale: 0.2).map { 1 + $0 })
            matrix(p + "ffn_gate.weight", out: hidden, in: dim)
            matrix(p + "ffn_up.weight", out: hidden, in: dim)
            matrix(p + "ffn_down.weight", out: dim, in: hidden)
        }
        w.addTensor("output_norm.weight", dims: [dim], floats: [Float](repeating: 1, count: dim))
        return try w.writeTemporary("tiny-llama")
    }

    /// Q8_0 blocks (f16 scale, 32 int8) of `values`.
    static func q8_0(_ values: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        for b in stride(from: 0, to: values.count, by: 32) {
            let block = values[b..<b + 32]
            let amax = block.map(abs).max()!
            let d = amax / 127, id: Float = d == 0 ? 0 : 1 / d
            GGUFWriter.append(Float16(d).bitPattern, to: &out)
            for v in block { out.append(UInt8(bitPattern: Int8((v * id).rounded()))) }
        }
        return out
    }

    func testConfigReadsMetadataAndDefaults() throws {
        let g = try GGUFFile(path: Self.tinyModel(dropping: "llama.rope.freq_base").path)
        let c = try LlamaConfig(gguf: g)
        XCTAssertEqual(c.layers, 2)
        XCTAssertEqual(c.headDim, 8)
        XCTAssertEqual(c.kvDim, 16)
        XCTAssertEqual(c.groupSize, 2)
        XCTAssertEqual(c.vocabSize, 16, "from the token list when llama.vocab_size is absent")
        XCTAssertEqual(c.ropeFreqBase, 10000, "default")
        XCTAssertEqual(c.ropeDimensions, 8, "default: the head dimension")
    }

    func testMissingKeyIsNamed() throws {
        let g = try GGUFFile(path: Self.tinyModel(dropping: "llama.feed_forward_length").path)
        XCTAssertThrowsError(try LlamaConfig(gguf: g)) { error in
            XCTAssertTrue("\(error)".contains("llama.feed_forward_length"), "\(error)")
        }
    }

    func testUnsupportedArchitectureIsNamed() throws {
        let g = try GGUFFile(path: Self.tinyModel(architecture: "mamba").path)
        XCTAssertThrowsError(try LlamaModel(file: g)) { error in
            XCTAssertTrue("\(error)".contains("'mamba'"), "\(error)")
            XCTAssertTrue("\(error)".contains("general.architecture"), "\(error)")
        }
    }

    func testInvalidHeadCountIsNamed() throws {
        var w = GGUFWriter()
        w.add("general.architecture", "llama")
        for (k, v) in [("block_count", 1), ("embedding_length", 32), ("feed_forward_length", 64), ("attention.head_count", 4),
                       ("attention.head_count_kv", 3), ("context_length", 8), ("vocab_size", 16)] {
            w.add("llama." + k, .uint32(UInt32(v)))
        }
        w.add("llama.attention.layer_norm_rms_epsilon", .float32(1e-5))
        let g = try GGUFFile(bytes: w.bytes())
        XCTAssertThrowsError(try LlamaConfig(gguf: g)) { error in
            XCTAssertTrue("\(error)".contains("llama.attention.head_count_kv"), "\(error)")
        }
    }

    /// Logits of the last row after one prefill equal those after feeding the tokens one pass at a
    /// time through the cache, and two sequences in one batch equal each alone.
    func testDecodingThroughTheCacheEqualsOnePrefill() throws {
        let model = try LlamaModel(path: Self.tinyModel(quantizeQ8: false).path)
        let pool = ThreadPool(threads: 2)
        let tokens: [Int32] = [1, 8, 9, 12, 4, 13, 15, 5, 10, 6]
        let n = model.config.vocabSize

        let prefill = model.makeState(slots: 1, context: 16, batchTokens: 16, pool: pool)
        for (p, t) in tokens.enumerated() { prefill.add(token: t, position: p, slot: 0, logits: p == tokens.count - 1) }
        model.forward(prefill)
        let once = Array(UnsafeBufferPointer(start: prefill.logits(0), count: n))

        let stepwise = model.makeState(slots: 2, context: 16, batchTokens: 16, pool: pool)
        var last: [Float] = []
        for (p, t) in tokens.enumerated() {
            stepwise.clear()
            stepwise.add(token: t, position: p, slot: 1, logits: true)
            // another sequence in slot 0 shares every pass
            stepwise.add(token: tokens[tokens.count - 1 - p], position: p, slot: 0, logits: true)
            model.forward(stepwise)
            last = Array(UnsafeBufferPointer(start: stepwise.logits(0), count: n))
        }
        XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(once, last), 1e-4)

        let a = GenerationRequest(index: 0, prompt: [1, 8, 9], maxTokens: 6)
        let b = GenerationRequest(index: 1, prompt: [1, 10, 11, 12, 13], maxTokens: 6, sampling: SamplingParameters(temperature: 0.9, seed: 3))
        let together = Generator(model: model, state: model.makeState(slots: 2, context: 16, pool: pool)).generate([a, b])
        let alone = Generator(model: model, state: model.makeState(slots: 1, context: 16, pool: pool))
        XCTAssertEqual(try together[0].get().tokens, try alone.generate([a])[0].get().tokens)
        XCTAssertEqual(try together[1].get().tokens, try alone.generate([b])[0].get().tokens)
    }

    /// The forward pass against a plain double-precision transcription of Hugging Face's
    /// LlamaForCausalLM / Qwen2ForCausalLM on the same f32 weights: Llama's adjacent-pair RoPE, and
    /// Qwen2's QKV biases with rotate-half RoPE. The decoder rounds the KV cache, q and the
    /// attention probabilities to f16, as llama.cpp does, hence the tolerance; dropping Qwen2's
    /// biases or swapping the RoPE layouts moves these logits four to six times further than it.
    func testForwardMatchesAPlainTranscriptionForLlamaAndQwen2() throws {
        for architecture in ["llama", "qwen2"] {
            let file = try GGUFFile(path: Self.tinyModel(architecture: architecture, quantizeQ8: false).path)
            let model = try LlamaModel(file: file)
            let tokens: [Int32] = [1, 8, 9, 12, 4, 13, 15, 5, 10, 6, 14, 7]
            let state = model.makeState(slots: 1, context: 16, batchTokens: 16, pool: ThreadPool(threads: 2))
            for (p, t) in tokens.enumerated() { state.add(token: t, position: p, slot: 0, logits: p == tokens.count - 1) }
            model.forward(state)
            let got = Array(UnsafeBufferPointer(start: state.logits(0), count: model.config.vocabSize))
            let want = try Self.referenceLogits(file: file, config: model.config, tokens: tokens)
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(got, want.map(Float.init)), 2e-2, architecture)
            XCTAssertGreaterThan(want.map(abs).max()!, 0.5, "\(architecture): logits too small to tell anything apart")
        }
    }

    /// Last-position logits of `tokens`, computed in Double straight from the file's f32 tensors,
    /// with `deltas[name]` (same layout) added to those weights: a LoRA merged into the base.
    static func referenceLogits(file: GGUFFile, config c: LlamaConfig, tokens: [Int32],
                                deltas: [String: [Double]] = [:]) throws -> [Double] {
        func t(_ name: String) throws -> [Double] {
            let tensor = try file.tensor(named: name)
            let count = tensor.info.dims.reduce(1, *)
            var values = (0..<count).map { Double(tensor.pointer.load(fromByteOffset: 4 * $0, as: Float.self)) }
            if let delta = deltas[name] { for i in 0..<count { values[i] += delta[i] } }
            return values
        }
        func linear(_ x: [Double], _ w: [Double], out: Int, bias: [Double]? = nil) -> [Double] {
            var y = [Double](repeating: 0, count: out)
            for j in 0..<out {
                var sum: Double = bias?[j] ?? 0
                for i in 0..<x.count { sum += x[i] * w[j * x.count + i] }
                y[j] = sum
            }
            return y
        }
        func rmsNorm(_ x: [Double], _ w: [Double]) -> [Double] {
            let meanSquare: Double = x.map { $0 * $0 }.reduce(0, +) / Double(x.count)
            let s: Double = 1 / (meanSquare + Double(c.normEps)).squareRoot()
            return zip(x, w).map { $0 * s * $1 }
        }
        let dim = c.dim, headDim = c.headDim, kvDim = c.kvDim
        func rope(_ v: inout [Double], heads: Int, position: Int) {
            for h in 0..<heads {
                for i in 0..<headDim / 2 {
                    let exponent: Double = -2 * Double(i) / Double(headDim)
                    let angle: Double = Double(position) * pow(Double(c.ropeFreqBase), exponent)
                    let (a, b) = c.ropeStyle == .neox ? (h * headDim + i, h * headDim + i + headDim / 2)
                                                      : (h * headDim + 2 * i, h * headDim + 2 * i + 1)
                    let (x0, x1) = (v[a], v[b])
                    let (co, si) = (cos(angle), sin(angle))
                    v[a] = x0 * co - x1 * si
                    v[b] = x0 * si + x1 * co
                }
            }
        }
        let embedding = try t("token_embd.weight")
        var xs = tokens.map { Array(embedding[Int($0) * dim..<(Int($0) + 1) * dim]) }
        for l in 0..<c.layers {
            let p = "blk.\(l)."
            let (wq, wk, wv, wo) = (try t(p + "attn_q.weight"), try t(p + "attn_k.weight"), try t(p + "attn_v.weight"), try t(p + "attn_output.weight"))
            let bq = c.qkvBias ? try t(p + "attn_q.bias") : nil, bk = c.qkvBias ? try t(p + "attn_k.bias") : nil
            let bv = c.qkvBias ? try t(p + "attn_v.bias") : nil
            let attnNorm = try t(p + "attn_norm.weight")
            var qs: [[Double]] = [], ks: [[Double]] = [], vs: [[Double]] = []
            for (pos, x) in xs.enumerated() {
                let h = rmsNorm(x, attnNorm)
                var q = linear(h, wq, out: dim, bias: bq), k = linear(h, wk, out: kvDim, bias: bk)
                rope(&q, heads: c.heads, position: pos); rope(&k, heads: c.kvHeads, position: pos)
                qs.append(q); ks.append(k); vs.append(linear(h, wv, out: kvDim, bias: bv))
            }
            let (gate, up, down, ffnNorm) = (try t(p + "ffn_gate.weight"), try t(p + "ffn_up.weight"), try t(p + "ffn_down.weight"), try t(p + "ffn_norm.weight"))
            for pos in 0..<xs.count {
                var attention = [Double](repeating: 0, count: dim)
                for head in 0..<c.heads {
                    let kv = head / c.groupSize
                    var scores = [Double](repeating: 0, count: pos + 1)
                    for j in 0...pos {
                        var dot: Double = 0
                        for d in 0..<headDim { dot += qs[pos][head * headDim + d] * ks[j][kv * headDim + d] }
                        scores[j] = dot / Double(headDim).squareRoot()
                    }
                    let top = scores.max()!
                    let e = scores.map { exp($0 - top) }
                    let total: Double = e.reduce(0, +)
                    for d in 0..<headDim {
                        var sum: Double = 0
                        for j in 0...pos { sum += e[j] / total * vs[j][kv * headDim + d] }
                        attention[head * headDim + d] = sum
                    }
                }
                xs[pos] = zip(xs[pos], linear(attention, wo, out: dim)).map(+)
                let h = rmsNorm(xs[pos], ffnNorm)
                let g = linear(h, gate, out: c.hiddenDim), u = linear(h, up, out: c.hiddenDim)
                let swiglu: [Double] = zip(g, u).map { $0 / (1 + exp(-$0)) * $1 }
                xs[pos] = zip(xs[pos], linear(swiglu, down, out: dim)).map(+)
            }
        }
        let last = rmsNorm(xs[xs.count - 1], try t("output_norm.weight"))
        return linear(last, embedding, out: c.vocabSize)
    }

    func testPromptLongerThanTheContextIsAnErrorAndOthersGoOn() throws {
        let model = try LlamaModel(path: Self.tinyModel().path)
        let generator = Generator(model: model, state: model.makeState(slots: 2, context: 8, pool: ThreadPool(threads: 1)))
        let results = generator.generate([
            GenerationRequest(index: 0, prompt: [Int32](repeating: 4, count: 9), maxTokens: 3),
            GenerationRequest(index: 1, prompt: [1, 4], maxTokens: 3, ignoreEOS: true),
            GenerationRequest(index: 2, prompt: [1, 4, 5, 6, 7, 4], maxTokens: 10, ignoreEOS: true),
        ])
        XCTAssertThrowsError(try results[0].get()) { XCTAssertTrue("\($0)".contains("context"), "\($0)") }
        XCTAssertEqual(try results[1].get().tokens.count, 3)
        XCTAssertEqual(try results[1].get().finish, .length)
        // 6 prompt positions + 2 generated fill the 8 positions: the context ends it
        XCTAssertEqual(try results[2].get().tokens.count, 3)
        XCTAssertEqual(try results[2].get().finish, .length)
    }

    func testChatWithoutATemplateIsAClearError() throws {
        let g = try GGUFFile(path: Self.tinyModel().path)
        XCTAssertThrowsError(try ChatTemplate(gguf: g)) { XCTAssertTrue("\($0)".contains("chat_template"), "\($0)") }
        let odd = try GGUFFile(path: Self.tinyModel(chatTemplate: "{{ messages }}").path)
        XCTAssertThrowsError(try ChatTemplate(gguf: odd)) { XCTAssertTrue("\($0)".contains("not a format"), "\($0)") }
    }
}
