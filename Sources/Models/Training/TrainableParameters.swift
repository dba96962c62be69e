// TrainableParameters: everything fine-tuning changes, in one flat buffer — the LoRA A/B pairs of
// the targeted projections and the classification head — with their gradients and AdamW moments
// alongside, so clipping and the optimiser are single loops. Initialised as PEFT does: A Kaiming-
// uniform (a = √5, i.e. U(±1/√in)), B zeros; the head as torch.nn.Linear (weight and bias U(±1/√in)).
import Foundation

public final class TrainableParameters {
    /// One LoRA pair on a base projection.
    public struct Module {
        public let name: String     // base module name, e.g. "encoder.layer.0.attention.self.query"
        public let layer: Int
        public let kind: BertTrainer.Projection
        public let inFeatures, outFeatures, rank: Int
        public let a: Int           // offset of A [rank, in]
        public let b: Int           // offset of B [out, rank]
        public let index: Int       // position in `modules` (seeds its dropout masks)
    }

    public let modules: [Module]
    public let rank: Int
    /// alpha / r.
    public let scale: Float
    public let labels: Int, hidden: Int
    public let headWeight: Int      // offset of [labels, hidden]
    public let headBias: Int        // offset of [labels]
    public let count: Int
    public let values: UnsafeMutablePointer<Float>     // [count]
    public let gradients: UnsafeMutablePointer<Float>  // [count]
    /// 1 where AdamW applies weight decay (LoRA matrices, head weight), 0 for the head bias.
    let decay: UnsafeMutablePointer<Float>             // [count]
    /// Learning-rate multiplier per parameter: 1 for the LoRA matrices, the head's multiplier for the head.
    public let rate: UnsafeMutablePointer<Float>       // [count]

    /// Lays out pairs for `targets` (base module names with their [out, in]) and a head, and initialises them.
    init(targets: [(name: String, layer: Int, kind: BertTrainer.Projection, out: Int, in: Int)], rank: Int, alpha: Float,
         labels: Int, hidden: Int, seed: UInt64, headRate: Float = 1) {
        var offset = 0
        var modules: [Module] = []
        for (i, t) in targets.enumerated() {
            let a = offset; offset += rank * t.in
            let b = offset; offset += t.out * rank
            modules.append(Module(name: t.name, layer: t.layer, kind: t.kind, inFeatures: t.in, outFeatures: t.out,
                                  rank: rank, a: a, b: b, index: i))
        }
        headWeight = offset; offset += labels * hidden
        headBias = offset; offset += labels
        self.modules = modules
        self.rank = rank
        self.scale = alpha / Float(rank)
        self.labels = labels
        self.hidden = hidden
        count = offset
        values = .allocate(capacity: max(count, 1)); values.initialize(repeating: 0, count: max(count, 1))
        gradients = .allocate(capacity: max(count, 1)); gradients.initialize(repeating: 0, count: max(count, 1))
        decay = .allocate(capacity: max(count, 1)); decay.initialize(repeating: 1, count: max(count, 1))
        for j in 0..<labels { decay[headBias + j] = 0 }
        rate = .allocate(capacity: max(count, 1)); rate.initialize(repeating: 1, count: max(count, 1))
        for j in headWeight..<count { rate[j] = headRate }

        var rng = SplitMix64(seed: seed)
        for m in modules {
            let bound = 1 / Float(m.inFeatures).squareRoot()
            for j in 0..<(m.rank * m.inFeatures) { values[m.a + j] = rng.uniform(-bound, bound) }
            // B stays zero: the adapter starts as the identity.
        }
        let bound = 1 / Float(hidden).squareRoot()
        for j in 0..<(labels * hidden) { values[headWeight + j] = rng.uniform(-bound, bound) }
        for j in 0..<labels { values[headBias + j] = rng.uniform(-bound, bound) }
    }

    deinit { values.deallocate(); gradients.deallocate(); decay.deallocate(); rate.deallocate() }

    /// The module on `layer` of `kind`, if targeted.
    func module(layer: Int, kind: BertTrainer.Projection) -> Module? {
        modules.first { $0.layer == layer && $0.kind == kind }
    }

    /// A copy of the values (for keeping the best epoch).
    func snapshot() -> [Float] { Array(UnsafeBufferPointer(start: values, count: count)) }

    func restore(_ saved: [Float]) {
        precondition(saved.count == count)
        saved.withUnsafeBufferPointer { values.update(from: $0.baseAddress!, count: count) }
    }

    /// Starts from a trained classification adapter instead of PEFT's initialisation: its LoRA pairs (which
    /// must be exactly these modules, this rank and scale) and its head (rows in this head's label order).
    func load(from adapter: LoRAAdapter) throws {
        let weights = adapter.directory.appendingPathComponent("adapter_model.safetensors")
        let wanted = Set(modules.map(\.name)), present = Set(adapter.pairs.keys)
        guard wanted == present else {
            let missing = wanted.subtracting(present).sorted().prefix(3), extra = present.subtracting(wanted).sorted().prefix(3)
            throw ModelError.adapter(weights, "its LoRA modules are not the ones being trained (missing: "
                + (missing.isEmpty ? "none" : missing.joined(separator: ", ")) + "; extra: "
                + (extra.isEmpty ? "none" : extra.joined(separator: ", ")) + "); continue it with its own target modules")
        }
        for m in modules {
            let pair = adapter.pairs[m.name]!
            guard pair.a.shape == [m.rank, m.inFeatures] else {
                throw ModelError.adapterShape(weights, tensor: "\(m.name).lora_A.weight", expected: [m.rank, m.inFeatures], found: pair.a.shape)
            }
            guard pair.b.shape == [m.outFeatures, m.rank] else {
                throw ModelError.adapterShape(weights, tensor: "\(m.name).lora_B.weight", expected: [m.outFeatures, m.rank], found: pair.b.shape)
            }
            guard abs(pair.scale - scale) <= 1e-6 * scale else {
                throw ModelError.adapter(weights, "'\(m.name)' has scale \(pair.scale), not alpha / r = \(scale) (rank_pattern, alpha_pattern or rsLoRA); only a uniform scale can be continued")
            }
            (values + m.a).update(from: pair.a.pointer, count: m.rank * m.inFeatures)
            (values + m.b).update(from: pair.b.pointer, count: m.outFeatures * m.rank)
        }
        guard let w = adapter.savedTensors["classifier.weight"], let b = adapter.savedTensors["classifier.bias"] else {
            throw ModelError.adapter(weights, "has no classification head (classifier.weight and .bias in modules_to_save); only a SEQ_CLS adapter can be continued")
        }
        guard w.shape == [labels, hidden] else {
            throw ModelError.adapterShape(weights, tensor: "classifier.weight", expected: [labels, hidden], found: w.shape)
        }
        guard b.shape == [labels] else {
            throw ModelError.adapterShape(weights, tensor: "classifier.bias", expected: [labels], found: b.shape)
        }
        (values + headWeight).update(from: w.pointer, count: labels * hidden)
        (values + headBias).update(from: b.pointer, count: labels)
    }

    /// Puts `member` in as the `index`-th of `members` equal parts of a uniform average (a model soup).
    /// LoRA deltas average exactly when their ranks are stacked: with A = [A₁; …; Aₙ], B = [B₁ … Bₙ] / n
    /// and the members' scale, B·A = (B₁A₁ + … + BₙAₙ) / n, so this rank must be n × the members' rank
    /// (alpha too, to keep the scale). The heads are averaged.
    func setSoupMember(_ member: TrainableParameters, index: Int, of members: Int) {
        precondition(member.rank * members == rank && member.scale == scale && member.modules.count == modules.count
                     && member.labels == labels && member.hidden == hidden && index >= 0 && index < members)
        let r = member.rank, share = 1 / Float(members)
        for (m, part) in zip(modules, member.modules) {
            precondition(m.name == part.name && m.inFeatures == part.inFeatures && m.outFeatures == part.outFeatures)
            // A rows index·r ..< (index+1)·r
            (values + m.a + index * r * m.inFeatures).update(from: member.values + part.a, count: r * m.inFeatures)
            // B columns index·r ..< (index+1)·r of each output row
            for o in 0..<m.outFeatures {
                let to = values + m.b + o * rank + index * r, from = member.values + part.b + o * r
                for j in 0..<r { to[j] = from[j] * share }
            }
        }
        for j in 0..<(labels * hidden + labels) {
            let v = member.values[member.headWeight + j] * share
            values[headWeight + j] = index == 0 ? v : values[headWeight + j] + v
        }
    }
}

/// SplitMix64: a small, fast, seedable generator; the same stream on every platform.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    /// A generator for one named purpose (epoch shuffle, a dropout mask chunk) derived from a seed.
    public init(seed: UInt64, _ a: UInt64, _ b: UInt64 = 0, _ c: UInt64 = 0) {
        var s = SplitMix64(seed: seed ^ 0x5DEE_CE66_D1CE_4E5B)
        for x in [a, b, c] { s.state ^= x &* 0x9E37_79B9_7F4A_7C15; _ = s.next() }
        state = s.next()
    }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 24 bits.
    @inline(__always) public mutating func unit() -> Float { Float(next() >> 40) * (1.0 / 16_777_216.0) }
    @inline(__always) public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * unit() }
}
