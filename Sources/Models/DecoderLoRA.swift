// LoRA adapters for the Llama-family decoder, applied unmerged at the matmul by the base weight's
// GGUF name (llama.cpp's `llama_adapter_lora` + `build_lora_mm`). Two sources:
// - llama.cpp GGUF adapters (`general.type = adapter`, `adapter.type = lora`): tensors
//   `<base>.lora_a` (GGUF dims [in, r]) and `<base>.lora_b` ([r, out]); scale = alpha / r.
// - PEFT safetensors directories for Llama models: `model.layers.N.self_attn.q_proj` and friends,
//   renamed to GGUF names; lora_B rows of q and k are permuted as llama.cpp's converter permutes
//   the base Q and K weights (so the adapter's output lines up with the GGUF rows).
import Foundation

/// An adapter's low-rank pairs by base weight name (e.g. `blk.0.attn_q.weight`). Float copies: small.
public final class DecoderLoRA: @unchecked Sendable {
    public struct Pair: @unchecked Sendable {
        public let a: UnsafePointer<Float>   // [rank, in]
        public let b: UnsafePointer<Float>   // [out, rank]
        public let rank: Int
        public let inFeatures: Int
        public let outFeatures: Int
        public let scale: Float
    }

    public let source: String
    public let pairs: [String: Pair]
    /// Multiplies every pair's scale (1 reproduces the adapter as trained).
    public var userScale: Float = 1
    private var storage: [UnsafeMutablePointer<Float>] = []

    public var maxRank: Int { pairs.values.map(\.rank).max() ?? 0 }

    @inline(__always)
    public func pair(for weight: String) -> Pair? { pairs[weight] }

    deinit { for p in storage { p.deallocate() } }

    private init(source: String, build: (inout [UnsafeMutablePointer<Float>]) throws -> [String: Pair]) rethrows {
        self.source = source
        var storage: [UnsafeMutablePointer<Float>] = []
        do {
            pairs = try build(&storage)
        } catch {
            for p in storage { p.deallocate() }
            throw error
        }
        self.storage = storage
    }

    /// Loads a GGUF LoRA (a file) or a PEFT adapter (a directory) and checks it against `model`.
    public static func load(_ path: String, for model: LlamaModel) throws -> DecoderLoRA {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ModelError.missingFile(URL(fileURLWithPath: path), hint: "give a llama.cpp GGUF LoRA file or a PEFT adapter directory")
        }
        let adapter = isDirectory.boolValue ? try peft(directory: URL(fileURLWithPath: path), model: model)
                                            : try gguf(GGUFFile(path: path), model: model)
        try adapter.validate(model.linearShapes, url: URL(fileURLWithPath: path))
        return adapter
    }

    /// A llama.cpp GGUF LoRA adapter.
    public static func gguf(_ g: GGUFFile, model: LlamaModel) throws -> DecoderLoRA {
        let url = URL(fileURLWithPath: g.path)
        let type = try g.string("general.type", default: "model")
        guard type == "adapter", try g.string("adapter.type", default: "") == "lora" else {
            throw ModelError.adapter(url, "general.type is '\(type)'; a LoRA adapter has general.type = adapter and adapter.type = lora")
        }
        let arch = try g.architecture
        guard arch == model.config.architecture else {
            throw ModelError.adapter(url, "is for architecture '\(arch)' but the model is '\(model.config.architecture)'; this adapter was trained for another base model")
        }
        let alpha = try g.float("adapter.lora.alpha", default: 0)
        return try DecoderLoRA(source: g.path) { storage in
            var pairs: [String: Pair] = [:]
            for name in g.tensorNames where name.hasSuffix(".lora_a") {
                let base = String(name.dropLast(".lora_a".count))
                let a = try g.tensor(named: name)
                guard let bInfo = g.info(named: base + ".lora_b") else {
                    throw ModelError.adapter(url, "'\(name)' has no matching '\(base).lora_b'; the file is incomplete")
                }
                let b = try g.tensor(named: bInfo.name)
                guard a.dims.count == 2, b.dims.count == 2, a.dims[1] == b.dims[0] else {
                    throw ModelError.adapterShape(url, tensor: bInfo.name, expected: [a.dims.last ?? 0, -1], found: b.dims)
                }
                let rank = a.dims[1], inF = a.dims[0], outF = b.dims[1]
                let pa = try floats(a, &storage), pb = try floats(b, &storage)
                pairs[base] = Pair(a: pa, b: pb, rank: rank, inFeatures: inF, outFeatures: outF,
                                   scale: alpha != 0 ? alpha / Float(rank) : 1)
            }
            if pairs.isEmpty { throw ModelError.adapter(url, "holds no LoRA tensors (names ending in .lora_a/.lora_b)") }
            return pairs
        }
    }

    /// A PEFT adapter directory for a Llama model (`adapter_config.json`, `adapter_model.safetensors`).
    public static func peft(directory: URL, model: LlamaModel) throws -> DecoderLoRA {
        let peft = try LoRAAdapter(directory: directory)
        let c = model.config
        return try DecoderLoRA(source: directory.path) { storage in
            var pairs: [String: Pair] = [:]
            for (module, pair) in peft.pairs {
                guard let name = ggufName(peftModule: module) else {
                    throw ModelError.adapter(directory, "targets '\(module)', which is not a Llama projection (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)")
                }
                let rank = pair.rank, inF = pair.a.shape[1], outF = pair.b.shape[0]
                let a = UnsafeMutablePointer<Float>.allocate(capacity: rank * inF)
                storage.append(a)
                a.update(from: pair.a.pointer, count: rank * inF)
                let b = UnsafeMutablePointer<Float>.allocate(capacity: outF * rank)
                storage.append(b)
                // HF → GGUF row order for q and k: row h·d + c·d/2 + i goes to h·d + 2i + c.
                let heads = name.contains("attn_q") ? c.heads : name.contains("attn_k") ? c.kvHeads : 0
                for row in 0..<outF {
                    var target = row
                    if heads > 0, outF == heads * c.headDim {
                        let d = c.headDim, h = row / d, within = row % d
                        let comp = within / (d / 2), i = within % (d / 2)
                        target = h * d + 2 * i + comp
                    }
                    (b + target * rank).update(from: pair.b.pointer + row * rank, count: rank)
                }
                pairs[name] = Pair(a: a, b: b, rank: rank, inFeatures: inF, outFeatures: outF, scale: pair.scale)
            }
            return pairs
        }
    }

    /// `model.layers.3.self_attn.q_proj` → `blk.3.attn_q.weight`.
    static func ggufName(peftModule module: String) -> String? {
        let parts = module.split(separator: ".")
        guard let layersAt = parts.firstIndex(of: "layers"), layersAt + 1 < parts.count, let layer = Int(parts[layersAt + 1]),
              let last = parts.last else { return nil }
        let map = ["q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
                   "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"]
        return map[String(last)].map { "blk.\(layer).\($0).weight" }
    }

    private static func floats(_ t: GGUFTensor, _ storage: inout [UnsafeMutablePointer<Float>]) throws -> UnsafePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(t.elementCount, 1))
        storage.append(p)
        try Dequantize.row(t.type, t.pointer, count: t.elementCount, into: p)
        return UnsafePointer(p)
    }

    private func validate(_ shapes: [String: (out: Int, in: Int)], url: URL) throws {
        for (name, p) in pairs.sorted(by: { $0.key < $1.key }) {
            guard let s = shapes[name] else {
                throw ModelError.adapter(url, "targets '\(name)', which this model does not have; this adapter was trained for another base model")
            }
            if p.inFeatures != s.in {
                throw ModelError.adapterShape(url, tensor: name + " lora_a", expected: [p.rank, s.in], found: [p.rank, p.inFeatures])
            }
            if p.outFeatures != s.out {
                throw ModelError.adapterShape(url, tensor: name + " lora_b", expected: [s.out, p.rank], found: [p.outFeatures, p.rank])
            }
        }
    }
}
