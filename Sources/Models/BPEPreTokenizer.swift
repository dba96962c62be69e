// Pre-tokenisers for byte-level BPE: split text into the words BPE merges
// within. Each is a hand-written scanner over Unicode scalars that does what
// llama.cpp's `unicode_regex_split` does for the regexes named by
// `tokenizer.ggml.pre` (llama-vocab.cpp's `llm_tokenizer_bpe`): its custom
// GPT-2 and Llama-3 splitters, and std::regex over category-collapsed text
// for the rest. Categories: L (letter), N (number), P (punctuation) from
// `Unicode.Scalar.Properties.generalCategory`; whitespace is Unicode
// White_Space, the same set as llama.cpp's `unicode_set_whitespace`.

/// The pre-tokeniser a GGUF names in `tokenizer.ggml.pre`.
public enum BPEPreTokenizer: String, Sendable, CaseIterable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Each \p{N} on its own, then GPT-2 (smollm, starcoder, refact, command-r).
    case smollm
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3
    /// As llama3 with single digits, `\p{N}` (qwen2, stablelm2).
    case qwen2
    /// llama.cpp's fallback: `[\p{P}\$\+<=>\^~\|]+`, then GPT-2, then
    /// `\p{N}+`, then `[0-9][0-9][0-9]`.
    case `default`

    /// The pre-tokeniser for a `tokenizer.ggml.pre` value, or nil if Dojo
    /// does not implement it.
    public init?(ggufName name: String) {
        switch name {
        case "default": self = .default
        case "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais": self = .gpt2
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b": self = .smollm
        case "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "dbrx", "smaug-bpe":
            self = .llama3
        case "qwen2", "stablelm2", "deepseek-r1-qwen", "megrez": self = .qwen2
        default: return nil
        }
    }

    // Category flags of one scalar; `valid` marks "inside the fragment", so
    // a position past the end reads as 0, as llama.cpp's `_get_flags` does.
    static let letter: UInt8 = 1, number: UInt8 = 2, space: UInt8 = 4, punct: UInt8 = 8, valid: UInt8 = 0x80

    static let asciiFlags: [UInt8] = (0..<128).map { flagsSlow(UInt32($0)) }

    static func flagsSlow(_ c: UInt32) -> UInt8 {
        guard let s = Unicode.Scalar(c) else { return valid }
        var f = valid
        let p = s.properties
        if p.isWhitespace { f |= space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: f |= letter
        case .decimalNumber, .letterNumber, .otherNumber: f |= number
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: f |= punct
        default: break
        }
        return f
    }

    @inline(__always)
    static func flags(_ c: UInt32) -> UInt8 { c < 128 ? asciiFlags[Int(c)] : flagsSlow(c) }

    /// Splits `cps` (the scalars of one text fragment) into words, as ranges
    /// of scalar indices, appended to `words` in order.
    public func split(_ cps: [UInt32], into words: inout [Range<Int>]) {
        let flags = cps.map(BPEPreTokenizer.flags)
        let whole = [0..<cps.count]
        func scan(_ frags: [Range<Int>], into out: inout [Range<Int>], _ body: (inout Scanner, inout [Range<Int>]) -> Void) {
            for r in frags {
                var scanner = Scanner(cps: cps, flags: flags, range: r)
                body(&scanner, &out)
            }
        }
        switch self {
        case .gpt2:
            scan(whole, into: &words) { $0.gpt2(into: &$1) }
        case .smollm:
            scan(BPEPreTokenizer.isolateEach(flags, BPEPreTokenizer.number, whole), into: &words) { $0.gpt2(into: &$1) }
        case .llama3:
            scan(whole, into: &words) { $0.llama3(maxDigits: 3, into: &$1) }
        case .qwen2:
            scan(whole, into: &words) { $0.llama3(maxDigits: 1, into: &$1) }
        case .default:
            let punct = BPEPreTokenizer.splitRuns(whole) { i in
                flags[i] & BPEPreTokenizer.punct != 0 || [0x24, 0x2B, 0x3C, 0x3D, 0x3E, 0x5E, 0x7E, 0x7C].contains(cps[i])
            }
            var stage2: [Range<Int>] = []
            scan(punct, into: &stage2) { $0.gpt2(into: &$1) }
            let numbers = BPEPreTokenizer.splitRuns(stage2) { flags[$0] & BPEPreTokenizer.number != 0 }
            words += BPEPreTokenizer.splitDigitTriples(cps, numbers)
        }
    }

    /// Convenience for tests: the words of `text` as strings.
    public func split(_ text: String) -> [String] {
        let cps = text.unicodeScalars.map(\.value)
        var words: [Range<Int>] = []
        split(cps, into: &words)
        return words.map { r in
            var s = String.UnicodeScalarView()
            for c in cps[r] { s.append(Unicode.Scalar(c)!) }
            return String(s)
        }
    }

    // MARK: std::regex stages (match runs; text between matches stays a fragment)

    /// `X` (one scalar of a class): each such scalar becomes its own fragment.
    static func isolateEach(_ flags: [UInt8], _ cls: UInt8, _ frags: [Range<Int>]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for r in frags {
            var start = r.lowerBound
            for i in r where flags[i] & cls != 0 {
                if start < i { out.append(start..<i) }
                out.append(i..<i + 1)
                start = i + 1
            }
            if start < r.upperBound { out.append(start..<r.upperBound) }
        }
        return out
    }

    /// `[class]+`: each maximal run becomes a fragment.
    static func splitRuns(_ frags: [Range<Int>], _ inClass: (Int) -> Bool) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for r in frags {
            var start = r.lowerBound
            var i = r.lowerBound
            while i < r.upperBound {
                if inClass(i) {
                    var j = i + 1
                    while j < r.upperBound, inClass(j) { j += 1 }
                    if start < i { out.append(start..<i) }
                    out.append(i..<j)
                    start = j
                    i = j
                } else {
                    i += 1
                }
            }
            if start < r.upperBound { out.append(start..<r.upperBound) }
        }
        return out
    }

    /// `[0-9][0-9][0-9]`: leftmost non-overlapping ASCII digit triples.
    static func splitDigitTriples(_ cps: [UInt32], _ frags: [Range<Int>]) -> [Range<Int>] {
        func isDigit(_ i: Int) -> Bool { cps[i] >= 0x30 && cps[i] <= 0x39 }
        var out: [Range<Int>] = []
        for r in frags {
            var start = r.lowerBound
            var i = r.lowerBound
            while i + 3 <= r.upperBound {
                if isDigit(i), isDigit(i + 1), isDigit(i + 2) {
                    if start < i { out.append(start..<i) }
                    out.append(i..<i + 3)
                    i += 3
                    start = i
                } else {
                    i += 1
                }
            }
            if start < r.upperBound { out.append(start..<r.upperBound) }
        }
        return out
    }
}

/// One fragment's scan, mirroring llama.cpp's custom splitters branch for branch.
private struct Scanner {
    let cps: [UInt32]
    let flags: [UInt8]
    let range: Range<Int>
    var prevEnd: Int

    init(cps: [UInt32], flags: [UInt8], range: Range<Int>) {
        self.cps = cps
        self.flags = flags
        self.range = range
        prevEnd = range.lowerBound
    }

    static let outOfRange = UInt32.max

    @inline(__always) func cpt(_ i: Int) -> UInt32 { range.contains(i) ? cps[i] : Scanner.outOfRange }
    @inline(__always) func flag(_ i: Int) -> UInt8 { range.contains(i) ? flags[i] : 0 }
    @inline(__always) func isLetter(_ i: Int) -> Bool { flag(i) & BPEPreTokenizer.letter != 0 }
    @inline(__always) func isNumber(_ i: Int) -> Bool { flag(i) & BPEPreTokenizer.number != 0 }
    @inline(__always) func isSpace(_ i: Int) -> Bool { flag(i) & BPEPreTokenizer.space != 0 }
    /// In the fragment and not whitespace, letter or number: `[^\s\p{L}\p{N}]`.
    @inline(__always) func isOther(_ i: Int) -> Bool {
        let f = flag(i)
        return f != 0 && f & (BPEPreTokenizer.letter | BPEPreTokenizer.number | BPEPreTokenizer.space) == 0
    }

    mutating func add(_ end: Int, _ words: inout [Range<Int>]) {
        if end > prevEnd { words.append(prevEnd..<end) }
        prevEnd = end
    }

    /// Length of a contraction ('s 't 'm 'd 're 've 'll) at `pos`, or 0.
    func contraction(_ pos: Int, caseInsensitive: Bool) -> Int {
        guard cps[pos] == 0x27, pos + 1 < range.upperBound else { return 0 }
        func lower(_ c: UInt32) -> UInt32 { caseInsensitive && c >= 0x41 && c <= 0x5A ? c + 32 : c }
        let n = lower(cps[pos + 1])
        if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 { return 2 }  // s t m d
        guard pos + 2 < range.upperBound else { return 0 }
        let nn = lower(cps[pos + 2])
        if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) { return 3 }  // re ve ll
        return 0
    }

    mutating func gpt2(into words: inout [Range<Int>]) {
        var pos = range.lowerBound
        while pos < range.upperBound {
            let c = cps[pos]
            // 's|'t|'re|'ve|'m|'ll|'d
            let k = contraction(pos, caseInsensitive: false)
            if k > 0 { pos += k; add(pos, &words); continue }
            // <space>?\p{L}+ | <space>?\p{N}+ | <space>?[^\s\p{L}\p{N}]+
            let next = c == 0x20 ? pos + 1 : pos
            if isLetter(next) {
                pos = next
                while isLetter(pos) { pos += 1 }
                add(pos, &words); continue
            }
            if isNumber(next) {
                pos = next
                while isNumber(pos) { pos += 1 }
                add(pos, &words); continue
            }
            if isOther(next) {
                pos = next
                while isOther(pos) { pos += 1 }
                add(pos, &words); continue
            }
            // \s+(?!\S) | \s+
            var n = 0
            while isSpace(pos + n) { n += 1 }
            if n > 1 && cpt(pos + n) != Scanner.outOfRange {
                pos += n - 1; add(pos, &words); continue
            }
            if n > 0 { pos += n; add(pos, &words); continue }
            pos += 1
            add(pos, &words)
        }
    }

    mutating func llama3(maxDigits: Int, into words: inout [Range<Int>]) {
        var pos = range.lowerBound
        while pos < range.upperBound {
            let c = cps[pos]
            // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            let k = contraction(pos, caseInsensitive: true)
            if k > 0 { pos += k; add(pos, &words); continue }
            // [^\r\n\p{L}\p{N}]?\p{L}+
            if !(c == 0x0D || c == 0x0A || isNumber(pos)), isLetter(pos) || isLetter(pos + 1) {
                pos += 1
                while isLetter(pos) { pos += 1 }
                add(pos, &words); continue
            }
            // \p{N}{1,maxDigits}
            if isNumber(pos) {
                var start = pos
                while isNumber(pos) {
                    pos += 1
                    if pos - start >= maxDigits { add(pos, &words); start = pos }
                }
                add(pos, &words); continue
            }
            // <space>?[^\s\p{L}\p{N}]+[\r\n]*
            let f2 = c == 0x20 ? flag(pos + 1) : flag(pos)
            if f2 & (BPEPreTokenizer.letter | BPEPreTokenizer.number | BPEPreTokenizer.space) == 0 {
                if c == 0x20 { pos += 1 }
                while isOther(pos) { pos += 1 }
                while cpt(pos) == 0x0D || cpt(pos) == 0x0A { pos += 1 }
                add(pos, &words); continue
            }
            // \s*[\r\n]+ | \s+(?!\S) | \s+
            var n = 0
            var lastNewlineEnd = 0
            while isSpace(pos + n) {
                let c2 = cps[pos + n]
                if c2 == 0x0D || c2 == 0x0A { lastNewlineEnd = pos + n + 1 }
                n += 1
            }
            if lastNewlineEnd > 0 { pos = lastNewlineEnd; add(pos, &words); continue }
            if n > 1 && cpt(pos + n) != Scanner.outOfRange {
                pos += n - 1; add(pos, &words); continue
            }
            if n > 0 { pos += n; add(pos, &words); continue }
            pos += 1
            add(pos, &words)
        }
    }
}
