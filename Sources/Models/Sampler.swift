// Token sampling as llama.cpp's common sampler chain applies it (`common_sampler`, llama-sampling.cpp):
// repetition penalty → top-k → top-p → min-p → temperature → draw; temperature 0 is greedy (argmax
// after the penalty). Each sequence draws from its own seeded generator, so its tokens depend on its
// seed only, not on which sequences share its batch.
import Foundation

/// How to choose the next token.
public struct SamplingParameters: Sendable, Equatable {
    /// 0 = greedy.
    public var temperature: Float = 0
    /// Keep the k most likely tokens; 0 = all.
    public var topK: Int = 40
    /// Keep the smallest set whose probability reaches p; 1 = all.
    public var topP: Float = 0.95
    /// Drop tokens less likely than min-p × the most likely one; 0 = none.
    public var minP: Float = 0.05
    /// Divide positive (multiply negative) logits of recently seen tokens; 1 = off.
    public var repeatPenalty: Float = 1
    /// How many recent tokens (prompt included) the penalty looks at.
    public var repeatLastN: Int = 64
    public var seed: UInt64 = 0

    public init(temperature: Float = 0, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repeatPenalty: Float = 1, repeatLastN: Int = 64, seed: UInt64 = 0) {
        self.temperature = temperature; self.topK = topK; self.topP = topP; self.minP = minP
        self.repeatPenalty = repeatPenalty; self.repeatLastN = repeatLastN; self.seed = seed
    }

    public static let greedy = SamplingParameters()
}

/// xoshiro256** seeded through SplitMix64: fast, and the same stream on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init(seed: UInt64) {
        var z = seed
        func splitMix() -> UInt64 {
            z &+= 0x9E37_79B9_7F4A_7C15
            var x = z
            x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
            x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
            return x ^ (x >> 31)
        }
        s = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// One sequence's sampler: its parameters and random stream.
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var rng: SeededGenerator

    /// `stream` separates sequences that share a seed (their index in the input).
    public init(_ parameters: SamplingParameters, stream: UInt64 = 0) {
        self.parameters = parameters
        rng = SeededGenerator(seed: parameters.seed &* 0x9E37_79B9_7F4A_7C15 ^ stream)
    }

    /// Picks a token from `logits` (modified in place: penalties, masks). `recent` are the sequence's
    /// tokens so far (for the penalty); `banned` get -inf first (end-of-generation with ignore-eos).
    public mutating func sample(_ logits: UnsafeMutablePointer<Float>, count n: Int, recent: ArraySlice<Int32>,
                                banned: Set<Int32> = [], scratch: inout [Candidate]) -> Int32 {
        let p = parameters
        for id in banned where Int(id) < n { logits[Int(id)] = -.infinity }
        if p.repeatPenalty != 1, p.repeatLastN != 0 {
            let window = p.repeatLastN < 0 ? recent : recent.suffix(p.repeatLastN)
            var seen = Set<Int32>()
            for id in window where id >= 0 && Int(id) < n && seen.insert(id).inserted {
                let l = logits[Int(id)]
                logits[Int(id)] = l > 0 ? l / p.repeatPenalty : l * p.repeatPenalty
            }
        }
        if p.temperature <= 0 {
            var best = 0
            for i in 1..<n where logits[i] > logits[best] { best = i }
            return Int32(best)
        }

        // top-k: candidates sorted by logit, descending
        if scratch.count < n { scratch = [Candidate](repeating: Candidate(id: 0, logit: 0), count: n) }
        for i in 0..<n { scratch[i] = Candidate(id: Int32(i), logit: logits[i]) }
        let k = p.topK > 0 ? min(p.topK, n) : n
        var kept: Int
        if k < n {
            scratch.withUnsafeMutableBufferPointer { b in Self.partialSortDescending(b, n: n, k: k) }
            kept = k
        } else {
            scratch[0..<n].sort { $0.logit > $1.logit }
            kept = n
        }
        // probabilities of the kept candidates (before temperature, as llama.cpp's top-p/min-p see them)
        let maxLogit = scratch[0].logit
        guard maxLogit.isFinite else { return scratch[0].id }
        var probabilities = [Double](repeating: 0, count: kept)
        var sum = 0.0
        for i in 0..<kept {
            probabilities[i] = exp(Double(scratch[i].logit - maxLogit))
            sum += probabilities[i]
        }
        // top-p
        if p.topP < 1 {
            var cumulative = 0.0
            for i in 0..<kept {
                cumulative += probabilities[i] / sum
                if cumulative >= Double(p.topP) { kept = i + 1; break }
            }
        }
        // min-p
        if p.minP > 0 {
            let threshold = Double(p.minP)  // relative to the top candidate's probability (1 before normalising)
            var i = 1
            while i < kept, probabilities[i] >= threshold { i += 1 }
            kept = i
        }
        // temperature, then draw
        var weights = [Double](repeating: 0, count: kept)
        var total = 0.0
        for i in 0..<kept {
            weights[i] = exp(Double(scratch[i].logit - maxLogit) / Double(p.temperature))
            total += weights[i]
        }
        var u = rng.nextUnit() * total
        for i in 0..<kept {
            u -= weights[i]
            if u < 0 { return scratch[i].id }
        }
        return scratch[kept - 1].id
    }

    /// A vocabulary entry during sampling.
    public struct Candidate: Sendable {
        public var id: Int32
        public var logit: Float
    }

    /// Moves the k largest of b[0..<n] to the front, sorted descending (a heap of k, then sorted).
    static func partialSortDescending(_ b: UnsafeMutableBufferPointer<Candidate>, n: Int, k: Int) {
        // min-heap of the best k in b[0..<k]
        func siftDown(_ start: Int) {
            var i = start
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < k && b[l].logit < b[m].logit { m = l }
                if r < k && b[r].logit < b[m].logit { m = r }
                if m == i { return }
                b.swapAt(i, m)
                i = m
            }
        }
        for i in stride(from: k / 2 - 1, through: 0, by: -1) { siftDown(i) }
        for i in k..<n where b[i].logit > b[0].logit {
            b[0] = b[i]
            siftDown(0)
        }
        var top = Array(b[0..<k])
        // ties broken by the lower id, as a stable sort of the vocabulary would
        top.sort { $0.logit != $1.logit ? $0.logit > $1.logit : $0.id < $1.id }
        for i in 0..<k { b[i] = top[i] }
    }
}
