import Foundation
import Kernels
import Models
import TestSupport
import XCTest

/// Decoder LoRA adapters, llama.cpp GGUF and PEFT safetensors, applied unmerged over the base:
/// the logits must be those of the base with scale·B·A merged into its weights.
final class DecoderLoRATests: XCTestCase {
    static let rank = 4, alpha: Float = 8
    /// Targets: every kind of projection the loader maps, in both layers.
    static let targets: [(gguf: String, peft: String)] = [
        ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj"),
        ("blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj"),
        ("blk.1.attn_v.weight", "model.layers.1.self_attn.v_proj"),
        ("blk.1.attn_output.weight", "model.layers.1.self_attn.o_proj"),
        ("blk.0.ffn_gate.weight", "model.layers.0.mlp.gate_proj"),
        ("blk.1.ffn_up.weight", "model.layers.1.mlp.up_proj"),
        ("blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj"),
    ]

    /// A and B per target ([rank, in] and [out, rank], GGUF row order), seeded.
    static func matrices(_ model: LlamaModel) -> [String: (a: [Float], b: [Float], out: Int, in: Int)] {
        var rng = Models.SeededGenerator(seed: 21)
        var result: [String: (a: [Float], b: [Float], out: Int, in: Int)] = [:]
        for (name, _) in targets {
            let shape = model.linearShapes[name]!
            let a = (0..<rank * shape.in).map { _ in Float(rng.nextUnit() * 2 - 1) * 0.3 }
            let b = (0..<shape.out * rank).map { _ in Float(rng.nextUnit() * 2 - 1) * 0.3 }
            result[name] = (a, b, shape.out, shape.in)
        }
        return result
    }

    /// scale·B·A per target, as Double, for the reference forward.
    static func deltas(_ m: [String: (a: [Float], b: [Float], out: Int, in: Int)], scale: Double) -> [String: [Double]] {
        m.mapValues { p in
            var d = [Double](repeating: 0, count: p.out * p.in)
            for o in 0..<p.out {
                for i in 0..<p.in {
                    var sum = 0.0
                    for r in 0..<rank { sum += Double(p.b[o * rank + r]) * Double(p.a[r * p.in + i]) }
                    d[o * p.in + i] = scale * sum
                }
            }
            return d
        }
    }

    static func ggufAdapter(_ m: [String: (a: [Float], b: [Float], out: Int, in: Int)], architecture: String = "llama") throws -> URL {
        var w = GGUFWriter()
        w.add("general.architecture", .string(architecture))
        w.add("general.type", .string("adapter"))
        w.add("adapter.type", .string("lora"))
        w.add("adapter.lora.alpha", .float32(alpha))
        for (name, p) in m.sorted(by: { $0.key < $1.key }) {
            w.addTensor(name + ".lora_a", dims: [p.in, rank], floats: p.a)   // llama.cpp's names and dims
            w.addTensor(name + ".lora_b", dims: [rank, p.out], floats: p.b)
        }
        return try w.writeTemporary("tiny-lora")
    }

    /// The same adapter as PEFT saves it for the Hugging Face model: q and k rows of B in HF's
    /// rotate-half order (llama.cpp's converter permutes them into the GGUF's interleaved order).
    static func peftAdapter(_ m: [String: (a: [Float], b: [Float], out: Int, in: Int)], config c: LlamaConfig) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("peft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var tensors: [(name: String, dtype: TensorDType, shape: [Int], values: [Float])] = []
        for (gguf, peft) in targets {
            let p = m[gguf]!
            var b = p.b
            let heads = gguf.contains("attn_q") ? c.heads : gguf.contains("attn_k") ? c.kvHeads : 0
            if heads > 0 {
                let d = c.headDim
                for h in 0..<heads {
                    for comp in 0..<2 {
                        for i in 0..<d / 2 {
                            let hf = h * d + comp * d / 2 + i, gg = h * d + 2 * i + comp
                            for r in 0..<rank { b[hf * rank + r] = p.b[gg * rank + r] }
                        }
                    }
                }
            }
            tensors.append(("base_model.model.\(peft).lora_A.weight", .f32, [rank, p.in], p.a))
            tensors.append(("base_model.model.\(peft).lora_B.weight", .f32, [p.out, rank], b))
        }
        try SafeTensorsWriter.write(tensors, metadata: nil, to: dir.appendingPathComponent("adapter_model.safetensors"))
        let modules = Set(targets.map { String($0.peft.split(separator: ".").last!) }).sorted()
        let config = #"{"peft_type": "LORA", "r": \#(rank), "lora_alpha": \#(alpha), "target_modules": ["\#(modules.joined(separator: "\", \""))"]}"#
        try config.write(to: dir.appendingPathComponent("adapter_config.json"), atomically: true, encoding: .utf8)
        return dir
    }

    func logits(_ model: LlamaModel, _ tokens: [Int32], adapter: DecoderLoRA?) -> [Float] {
        let state = model.makeState(slots: 1, context: 16, batchTokens: 16, pool: ThreadPool(threads: 2))
        for (p, t) in tokens.enumerated() { state.add(token: t, position: p, slot: 0, logits: p == tokens.count - 1) }
        model.forward(state, adapter: adapter)
        return Array(UnsafeBufferPointer(start: state.logits(0), count: model.config.vocabSize))
    }

    func testGGUFAndPEFTAdaptersEqualTheMergedWeightsAtEveryUserScale() throws {
        let file = try GGUFFile(path: LlamaTinyModelTests.tinyModel(quantizeQ8: false).path)
        let model = try LlamaModel(file: file)
        let tokens: [Int32] = [1, 8, 9, 12, 4, 13, 15, 5, 10, 6]
        let m = Self.matrices(model)
        let base = logits(model, tokens, adapter: nil)
        let gguf = try DecoderLoRA.load(Self.ggufAdapter(m).path, for: model)
        let peft = try DecoderLoRA.load(Self.peftAdapter(m, config: model.config).path, for: model)
        XCTAssertEqual(gguf.pairs.count, Self.targets.count)
        XCTAssertEqual(peft.pairs.count, Self.targets.count)
        for userScale: Float in [1, 0.5] {
            gguf.userScale = userScale
            peft.userScale = userScale
            let scale = Double(Self.alpha) / Double(Self.rank) * Double(userScale)
            let want = try LlamaTinyModelTests.referenceLogits(file: file, config: model.config, tokens: tokens,
                                                               deltas: Self.deltas(m, scale: scale)).map(Float.init)
            let viaGGUF = logits(model, tokens, adapter: gguf), viaPEFT = logits(model, tokens, adapter: peft)
            XCTAssertGreaterThan(Tolerance.maxAbsDifference(base, want), 0.2, "the adapter must matter")
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(viaGGUF, want), 2e-2, "GGUF, user scale \(userScale)")
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(viaPEFT, viaGGUF), 1e-5, "PEFT, user scale \(userScale)")
        }
        // Scale 0 is the base model, exactly.
        gguf.userScale = 0
        XCTAssertEqual(logits(model, tokens, adapter: gguf), base)
    }

    func testAdaptersForAnotherModelAreRefusedNamingTheProblem() throws {
        let model = try LlamaModel(path: LlamaTinyModelTests.tinyModel(quantizeQ8: false).path)
        var m = Self.matrices(model)
        // B with the wrong number of rows
        let q = m["blk.0.attn_q.weight"]!
        m["blk.0.attn_q.weight"] = (q.a, [Float](repeating: 0, count: (q.out + 8) * Self.rank), q.out + 8, q.in)
        XCTAssertThrowsError(try DecoderLoRA.load(Self.ggufAdapter(m).path, for: model)) { error in
            XCTAssertTrue("\(error)".contains("blk.0.attn_q.weight"), "\(error)")
        }
        // another architecture
        XCTAssertThrowsError(try DecoderLoRA.load(Self.ggufAdapter(Self.matrices(model), architecture: "qwen2").path, for: model)) { error in
            XCTAssertTrue("\(error)".contains("qwen2"), "\(error)")
        }
        // a base model given as the adapter
        XCTAssertThrowsError(try DecoderLoRA.load(LlamaTinyModelTests.tinyModel().path, for: model)) { error in
            XCTAssertTrue("\(error)".contains("general.type"), "\(error)")
        }
    }
}
