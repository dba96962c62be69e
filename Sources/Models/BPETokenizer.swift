// Tokenizers from GGUF metadata, following llama.cpp's llama-vocab.cpp:
// byte-level BPE (`tokenizer.ggml.model = gpt2`, `llm_tokenizer_bpe`) and
// SentencePiece-style BPE (`llama`, `llm_tokenizer_spm`), with special tokens
// parsed out of the text first (`tokenizer_st_partition`, parse_special=true)
// and pieces as `token_to_piece` renders them.

/// A tokenizer file that cannot be used.

/// A GGUF vocabulary's token types (`tokenizer.ggml.token_type`).
public enum TokenType: Int32, Sendable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// Byte-level BPE or SentencePiece BPE over a GGUF vocabulary. Immutable and
/// safe to share between threads.
public final class BPETokenizer: Sendable {
    public enum Kind: Sendable, Equatable {
        /// GPT-2 style: bytes mapped to printable scalars, merges by rank.
        case byteLevel(BPEPreTokenizer)
        /// SentencePiece BPE: ▁ for spaces, merges by score, <0xXX> byte fallback.
        case sentencePiece
    }

    public let kind: Kind
    /// Token texts as stored (byte-level tokens in their mapped form).
    public let tokens: [String]
    public let tokenTypes: [TokenType]
    public let scores: [Float]

    public let bos: Int32?
    public let eos: Int32?
    public let eot: Int32?
    public let eom: Int32?
    public let unk: Int32?
    public let pad: Int32?
    public let addBOS: Bool
    public let addEOS: Bool
    public let addSpacePrefix: Bool
    /// Tokens that end generation: eos, eot, eom and the usual end-of-turn texts.
    public let endOfGeneration: Set<Int32>

    private let tokenToID: [String: Int32]
    /// Byte-level: (left id << 32 | right id) → (rank << 32 | merged id).
    private let merges: [UInt64: UInt64]
    /// Byte-level: the token of each single byte; SPM: the <0xXX> tokens.
    private let byteTokens: [Int32]
    /// Byte-level with `ignore_merges` (llama3): whole words found in the vocabulary.
    private let ignoreMerges: Bool
    /// Each token's bytes as `token_to_piece` renders it (special: true).
    private let pieces: [[UInt8]]
    /// Special tokens matched in text before BPE, longest first: (bytes, id).
    private let specials: [([UInt8], Int32)]

    public var vocabularySize: Int { tokens.count }

    public func id(of token: String) -> Int32? { tokenToID[token] }

    // MARK: Loading

    /// Reads `tokenizer.ggml.*` from a GGUF file.
    public init(gguf g: GGUFFile) throws {
        func fail(_ m: String) -> TokenizerError { TokenizerError(path: g.path, m) }
        let model = try g.string("tokenizer.ggml.model")
        let tokens = try g.strings("tokenizer.ggml.tokens")
        guard !tokens.isEmpty, tokens.count < Int(Int32.max) else {
            throw fail("tokenizer.ggml.tokens is empty; the file has no vocabulary")
        }
        let n = tokens.count
        var types = [TokenType](repeating: .normal, count: n)
        if g.contains("tokenizer.ggml.token_type") {
            let t = try g.ints("tokenizer.ggml.token_type")
            guard t.count == n else { throw fail("tokenizer.ggml.token_type has \(t.count) entries for \(n) tokens") }
            types = t.map { TokenType(rawValue: Int32(clamping: $0)) ?? .undefined }
        }
        var scores = [Float](repeating: 0, count: n)
        if g.contains("tokenizer.ggml.scores") {
            scores = try g.floats("tokenizer.ggml.scores")
            guard scores.count == n else { throw fail("tokenizer.ggml.scores has \(scores.count) entries for \(n) tokens") }
        }

        var tokenToID: [String: Int32] = [:]
        tokenToID.reserveCapacity(n)
        for (i, t) in tokens.enumerated() { tokenToID[t] = Int32(i) }

        func special(_ key: String, _ fallback: Int32?) throws -> Int32? {
            let full = "tokenizer.ggml.\(key)"
            guard g.contains(full) else { return fallback.flatMap { $0 < n ? $0 : nil } }
            let v = try g.int(full)
            // llama.cpp writes -1 (or 2^32-1) for "none".
            if v < 0 || v == Int(UInt32.max) { return nil }
            guard v < n else { throw fail("\(full) is \(v) but the vocabulary has \(n) tokens") }
            return Int32(v)
        }

        var merges: [UInt64: UInt64] = [:]
        var byteTokens = [Int32](repeating: -1, count: 256)
        var ignoreMerges = false
        switch model {
        case "gpt2":
            let preName = try g.string("tokenizer.ggml.pre", default: "default")
            guard let pre = BPEPreTokenizer(ggufName: preName) else {
                throw fail("tokenizer.ggml.pre is '\(preName)', a pre-tokeniser Dojo does not implement (it has: default, gpt2, smollm, llama-bpe, qwen2 and their aliases)")
            }
            kind = .byteLevel(pre)
            ignoreMerges = pre == .llama3
            for b in 0..<256 {
                byteTokens[b] = tokenToID[String(Character(ByteLevel.scalar(UInt8(b))))] ?? -1
            }
            let mergeList = try g.strings("tokenizer.ggml.merges")
            merges.reserveCapacity(mergeList.count)
            for (rank, m) in mergeList.enumerated() {
                // "left right", split at the first space after the first character.
                let u = Array(m.utf8)
                guard u.count >= 3, let sp = u[1...].firstIndex(of: 0x20) else {
                    throw fail("tokenizer.ggml.merges[\(rank)] is '\(m)', not 'left right'")
                }
                let left = String(decoding: u[..<sp], as: UTF8.self)
                let right = String(decoding: u[(sp + 1)...], as: UTF8.self)
                // A merge whose parts or result are not tokens can never apply.
                guard let l = tokenToID[left], let r = tokenToID[right], let lr = tokenToID[left + right] else { continue }
                let key = UInt64(UInt32(l)) << 32 | UInt64(UInt32(r))
                if merges[key] == nil { merges[key] = UInt64(rank) << 32 | UInt64(UInt32(lr)) }
            }
            bos = try special("bos_token_id", 11)
            eos = try special("eos_token_id", 11)
            unk = try special("unknown_token_id", nil)
            addBOS = try g.bool("tokenizer.ggml.add_bos_token", default: pre == .llama3)
            addSpacePrefix = try g.bool("tokenizer.ggml.add_space_prefix", default: false)
        case "llama":
            guard g.contains("tokenizer.ggml.scores") else {
                throw fail("tokenizer.ggml.scores is missing; a SentencePiece (llama) vocabulary needs scores")
            }
            kind = .sentencePiece
            for b in 0..<256 {
                let hex = String(b, radix: 16, uppercase: true)
                byteTokens[b] = tokenToID["<0x\(hex.count == 1 ? "0" + hex : hex)>"] ?? -1
            }
            bos = try special("bos_token_id", 1)
            eos = try special("eos_token_id", 2)
            unk = try special("unknown_token_id", 0)
            addBOS = try g.bool("tokenizer.ggml.add_bos_token", default: true)
            addSpacePrefix = try g.bool("tokenizer.ggml.add_space_prefix", default: true)
        default:
            throw fail("tokenizer.ggml.model is '\(model)'; Dojo reads 'gpt2' (byte-level BPE) and 'llama' (SentencePiece BPE) vocabularies")
        }
        addEOS = try g.bool("tokenizer.ggml.add_eos_token", default: false)
        pad = try special("padding_token_id", nil)
        eom = try special("eom_token_id", nil)

        // End of turn: from metadata, else the first of the usual texts present.
        let eotTexts = ["<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "_<EOT>", "<｜end▁of▁sentence｜>"]
        eot = try special("eot_token_id", nil) ?? eotTexts.lazy.compactMap { tokenToID[$0] }.first
        var eog = Set([eos, eot, eom].compactMap { $0 })
        for t in eotTexts + ["<|eom_id|>", "<|end_of_text|>", "<end_of_utterance>", "<|return|>", "<|call|>"] {
            if let id = tokenToID[t], types[Int(id)] == .control || types[Int(id)] == .userDefined { eog.insert(id) }
        }
        endOfGeneration = eog

        self.tokens = tokens
        self.tokenTypes = types
        self.scores = scores
        self.tokenToID = tokenToID
        self.merges = merges
        self.byteTokens = byteTokens
        self.ignoreMerges = ignoreMerges

        // Pieces, and the special tokens matched in text (control,
        // user-defined and unknown tokens, longest first).
        var pieces: [[UInt8]] = []
        pieces.reserveCapacity(n)
        var specials: [([UInt8], Int32)] = []
        let isByteLevel = model == "gpt2"
        for i in 0..<n {
            let text = tokens[i]
            switch types[i] {
            case .normal, .undefined:
                if isByteLevel {
                    pieces.append(ByteLevel.decode(text))
                } else {
                    pieces.append(Array(text.replacingSpaceMarker().utf8))
                }
            case .byte where !isByteLevel:
                let u = Array(text.utf8)
                if u.count == 6, let b = UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16) {
                    pieces.append([b])
                } else {
                    pieces.append(Array(text.utf8))
                }
            default:
                pieces.append(Array(text.utf8))
            }
            if [.control, .userDefined, .unknown].contains(types[i]), !text.isEmpty {
                specials.append((Array(text.utf8), Int32(i)))
            }
        }
        specials.sort { $0.0.count > $1.0.count }
        self.pieces = pieces
        self.specials = specials
    }

    // MARK: Encoding

    /// Token ids for `text`. Special-token texts in `text` become their ids
    /// (llama.cpp's parse_special); `addSpecial` adds BOS/EOS as the metadata
    /// asks (`add_bos_token`, `add_eos_token`).
    public func encode(_ text: String, addSpecial: Bool) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(text.utf8.count / 3 + 2)
        if addSpecial, addBOS, let bos { out.append(bos) }
        let bytes = Array(text.utf8)
        var isPrevSpecial = true
        for fragment in partition(bytes) {
            switch fragment {
            case .token(let id):
                out.append(id)
                isPrevSpecial = true
            case .text(let r):
                switch kind {
                case .byteLevel(let pre):
                    encodeByteLevel(bytes[r], pre: pre, into: &out)
                case .sentencePiece:
                    // A space prefix at the start and after each special token;
                    // spaces become ▁.
                    var t: [UInt8] = []
                    t.reserveCapacity(r.count + 3)
                    if addSpacePrefix && isPrevSpecial { t += ByteLevel.spaceMarker }
                    for b in bytes[r] {
                        if b == 0x20 { t += ByteLevel.spaceMarker } else { t.append(b) }
                    }
                    encodeSentencePiece(t, into: &out)
                }
                isPrevSpecial = false
            }
        }
        if addSpecial, addEOS, let eos { out.append(eos) }
        return out
    }

    private enum Fragment {
        case text(Range<Int>)
        case token(Int32)
    }

    /// Splits out special-token texts, longest tokens first, each one's
    /// occurrences left to right (llama.cpp's `tokenizer_st_partition`).
    private func partition(_ bytes: [UInt8]) -> [Fragment] {
        var frags: [Fragment] = bytes.isEmpty ? [] : [.text(0..<bytes.count)]
        guard !specials.isEmpty, !bytes.isEmpty else { return frags }
        var present = [Bool](repeating: false, count: 256)
        for b in bytes { present[Int(b)] = true }
        for (needle, id) in specials where needle.count <= bytes.count && present[Int(needle[0])] {
            var next: [Fragment] = []
            var changed = false
            for f in frags {
                guard case .text(let r) = f else { next.append(f); continue }
                var start = r.lowerBound
                var i = r.lowerBound
                let last = r.upperBound - needle.count
                while i <= last {
                    if bytes[i] == needle[0], bytes[i..<i + needle.count].elementsEqual(needle) {
                        if start < i { next.append(.text(start..<i)) }
                        next.append(.token(id))
                        i += needle.count
                        start = i
                        changed = true
                    } else {
                        i += 1
                    }
                }
                if start < r.upperBound { next.append(.text(start..<r.upperBound)) }
            }
            if changed { frags = next }
        }
        return frags
    }

    /// Byte-level BPE of one raw-text fragment.
    private func encodeByteLevel(_ bytes: ArraySlice<UInt8>, pre: BPEPreTokenizer, into out: inout [Int32]) {
        // Scalars with their UTF-8 offsets, so words map back to bytes.
        var cps: [UInt32] = []
        var offsets: [Int] = []
        cps.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        var k = bytes.startIndex
        let s = String(decoding: bytes, as: UTF8.self)
        for u in s.unicodeScalars {
            cps.append(u.value)
            offsets.append(k)
            k += UTF8.width(u)
        }
        offsets.append(k)
        var words: [Range<Int>] = []
        pre.split(cps, into: &words)
        var merger = Merger()
        for w in words {
            let wb = bytes[offsets[w.lowerBound]..<offsets[w.upperBound]]
            if ignoreMerges, let id = tokenToID[String(decoding: wb.map { ByteLevel.utf8(of: $0) }.joined(), as: UTF8.self)] {
                out.append(id)
                continue
            }
            merger.run(wb, byteTokens: byteTokens, merges: merges, into: &out)
        }
    }

    /// SentencePiece BPE of one fragment (already ▁-escaped): merge the
    /// adjacent pair whose concatenation is the highest-scoring token, until
    /// none is; symbols that are not tokens fall back to <0xXX> byte tokens.
    private func encodeSentencePiece(_ text: [UInt8], into out: inout [Int32]) {
        guard !text.isEmpty else { return }
        // Symbols: one per UTF-8 character, as byte ranges in a linked list.
        var start: [Int] = [], len: [Int] = [], prev: [Int] = [], next: [Int] = []
        var i = 0
        while i < text.count {
            let n = min(ByteLevel.utf8Length(lead: text[i]), text.count - i)
            prev.append(start.count - 1)
            start.append(i)
            len.append(n)
            i += n
            next.append(i == text.count ? -1 : start.count)
        }
        func lookup(_ a: Int, _ n: Int) -> Int32? {
            tokenToID[String(decoding: text[a..<a + n], as: UTF8.self)]
        }
        // Max-heap on (score, then smaller left index).
        var heap = BigramHeap()
        func tryAdd(_ l: Int, _ r: Int) {
            guard l >= 0, r >= 0, let id = lookup(start[l], len[l] + len[r]) else { return }
            heap.push(Bigram(score: scores[Int(id)], left: l, right: r, size: len[l] + len[r]))
        }
        for j in 1..<start.count { tryAdd(j - 1, j) }
        while let b = heap.pop() {
            let l = b.left, r = b.right
            // Skip bigrams whose symbols have since changed.
            if len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.size { continue }
            len[l] += len[r]
            len[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { prev[next[r]] = l }
            tryAdd(prev[l], l)
            tryAdd(l, next[l])
        }
        var j = 0
        while j != -1 {
            if len[j] > 0 {
                if let id = lookup(start[j], len[j]) {
                    out.append(id)
                } else {
                    for b in text[start[j]..<start[j] + len[j]] {
                        let t = byteTokens[Int(b)]
                        if t >= 0 { out.append(t) } else if let unk { out.append(unk) }
                    }
                }
            }
            j = next[j]
        }
    }

    // MARK: Decoding

    /// The bytes of one token. Control and unknown tokens render as their
    /// text only when `special` is true (llama.cpp's `token_to_piece`).
    public func piece(_ id: Int32, special: Bool = false) -> [UInt8] {
        guard id >= 0, Int(id) < pieces.count else { return [] }
        let t = tokenTypes[Int(id)]
        if !special && (t == .control || t == .unknown) { return [] }
        return pieces[Int(id)]
    }

    /// The text of `ids`. SentencePiece vocabularies drop the space their
    /// prefix added before the first token, as SentencePiece decoding does.
    /// Invalid UTF-8 (a character cut off) becomes U+FFFD.
    public func decode(_ ids: [Int32], special: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { bytes += piece(id, special: special) }
        if kind == .sentencePiece, addSpacePrefix, bytes.first == 0x20 { bytes.removeFirst() }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func makeStreamingDetokenizer(special: Bool = false) -> StreamingDetokenizer {
        StreamingDetokenizer(tokenizer: self, special: special)
    }

    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGeneration.contains(id) }
}

/// Turns generated tokens into text as they arrive, holding back the bytes of
/// a UTF-8 character until it is complete.
public struct StreamingDetokenizer {
    public let tokenizer: BPETokenizer
    public let special: Bool
    private var pending: [UInt8] = []

    init(tokenizer: BPETokenizer, special: Bool) {
        self.tokenizer = tokenizer
        self.special = special
    }

    /// The text completed by `id` (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        pending += tokenizer.piece(id, special: special)
        let keep = StreamingDetokenizer.incompleteSuffix(pending)
        guard keep < pending.count else { return "" }
        let text = String(decoding: pending[..<(pending.count - keep)], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }

    /// Whatever is held back (an unfinished character renders as U+FFFD).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Bytes at the end of `b` that start a UTF-8 character not yet complete.
    static func incompleteSuffix(_ b: [UInt8]) -> Int {
        var i = b.count - 1
        var cont = 0
        while i >= 0, cont < 3, b[i] & 0xC0 == 0x80 { i -= 1; cont += 1 }
        guard i >= 0 else { return 0 }
        let need = ByteLevel.utf8Length(lead: b[i])
        // A lead byte still waiting for continuation bytes.
        if need > 1, b[i] & 0xC0 == 0xC0, cont + 1 < need { return cont + 1 }
        return 0
    }
}

/// GPT-2's byte ↔ printable scalar mapping (`bytes_to_unicode`), and UTF-8 helpers.
enum ByteLevel {
    /// Bytes that map to themselves: '!'...'~', '¡'...'¬', '®'...'ÿ'; the
    /// other 68 map to U+0100 onwards in byte order.
    static let table: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                t[b] = UInt32(b)
            } else {
                t[b] = 256 + n
                n += 1
            }
        }
        return t
    }()

    static let inverse: [UInt32: UInt8] = {
        var d: [UInt32: UInt8] = [:]
        for (b, s) in table.enumerated() { d[s] = UInt8(b) }
        return d
    }()

    static let utf8Table: [[UInt8]] = table.map { Array(String(Character(Unicode.Scalar($0)!)).utf8) }

    static func scalar(_ b: UInt8) -> Unicode.Scalar { Unicode.Scalar(table[Int(b)])! }
    static func utf8(of b: UInt8) -> [UInt8] { utf8Table[Int(b)] }

    /// A byte-level token's bytes; scalars outside the mapping pass through as UTF-8.
    static func decode(_ token: String) -> [UInt8] {
        var out: [UInt8] = []
        for s in token.unicodeScalars {
            if let b = inverse[s.value] { out.append(b) } else { out += Array(String(s).utf8) }
        }
        return out
    }

    /// ▁ (U+2581), SentencePiece's space.
    static let spaceMarker: [UInt8] = [0xE2, 0x96, 0x81]

    static func utf8Length(lead b: UInt8) -> Int {
        switch b >> 4 {
        case 0xC, 0xD: return 2
        case 0xE: return 3
        case 0xF: return 4
        default: return 1
        }
    }
}

extension String {
    /// ▁ back to spaces (llama.cpp's `llama_unescape_whitespace`).
    func replacingSpaceMarker() -> String {
        var out = String.UnicodeScalarView()
        for s in unicodeScalars { out.append(s == "\u{2581}" ? " " : s) }
        return String(out)
    }
}

// MARK: Merge machinery

/// Byte-level BPE of one word with a min-heap of ranked adjacent pairs: the
/// lowest rank merges first, the leftmost among equal ranks (llama.cpp's
/// `llm_bigram_bpe` order). Buffers are reused across the words of a call.
private struct Merger {
    var ids: [Int32] = []
    var prev: [Int32] = []
    var next: [Int32] = []
    var heap: [(key: UInt64, right: Int32, leftID: Int32, rightID: Int32, merged: Int32)] = []

    mutating func run(_ word: ArraySlice<UInt8>, byteTokens: [Int32], merges: [UInt64: UInt64], into out: inout [Int32]) {
        let n = word.count
        if n == 1 {
            let t = byteTokens[Int(word.first!)]
            if t >= 0 { out.append(t) }
            return
        }
        ids.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true)
        next.removeAll(keepingCapacity: true)
        heap.removeAll(keepingCapacity: true)
        for (i, b) in word.enumerated() {
            ids.append(byteTokens[Int(b)])
            prev.append(Int32(i - 1))
            next.append(i == n - 1 ? -1 : Int32(i + 1))
        }
        for i in 1..<n { add(Int32(i - 1), Int32(i), merges) }
        while !heap.isEmpty {
            let top = popMin()
            let l = Int(top.key & 0xFFFF_FFFF), r = Int(top.right)
            // Stale: either side merged since this pair was queued.
            guard ids[l] == top.leftID, ids[r] == top.rightID, next[l] == top.right else { continue }
            ids[l] = top.merged
            ids[r] = -2  // merged away
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = Int32(l) }
            add(prev[l], Int32(l), merges)
            add(Int32(l), next[l], merges)
        }
        var i: Int32 = 0
        while i >= 0 {
            if ids[Int(i)] >= 0 { out.append(ids[Int(i)]) }
            i = next[Int(i)]
        }
    }

    private mutating func add(_ l: Int32, _ r: Int32, _ merges: [UInt64: UInt64]) {
        guard l >= 0, r >= 0 else { return }
        let a = ids[Int(l)], b = ids[Int(r)]
        guard a >= 0, b >= 0, let m = merges[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] else { return }
        // Key orders by rank, then by left index.
        let key = (m >> 32) << 32 | UInt64(UInt32(l))
        heap.append((key, r, a, b, Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)))
        var c = heap.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard heap[c].key < heap[p].key else { break }
            heap.swapAt(c, p)
            c = p
        }
    }

    private mutating func popMin() -> (key: UInt64, right: Int32, leftID: Int32, rightID: Int32, merged: Int32) {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < heap.count, heap[l].key < heap[m].key { m = l }
                if r < heap.count, heap[r].key < heap[m].key { m = r }
                if m == p { break }
                heap.swapAt(p, m)
                p = m
            }
        }
        return top
    }
}

private struct Bigram {
    var score: Float
    var left: Int
    var right: Int
    var size: Int

    /// Pops first: higher score, then smaller left index (llm_bigram_spm).
    func before(_ o: Bigram) -> Bool { score > o.score || (score == o.score && left < o.left) }
}

private struct BigramHeap {
    var items: [Bigram] = []

    mutating func push(_ b: Bigram) {
        items.append(b)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard items[c].before(items[p]) else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> Bigram? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < items.count, items[l].before(items[m]) { m = l }
                if r < items.count, items[r].before(items[m]) { m = r }
                if m == p { break }
                items.swapAt(p, m)
                p = m
            }
        }
        return top
    }
}
