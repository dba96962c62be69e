// BertNormalizer: the text clean-up of Hugging Face tokenizers'
// `normalizers::bert::BertNormalizer` and the character classes of its
// `BertPreTokenizer`, on Unicode scalars (no per-character Strings).
//
// Order, as HF applies it: clean text (drop U+0000, U+FFFD and "other"
// characters Cc/Cf/Cs/Co/Cn except \t\n\r, so VT, FF and NEL go too; other
// whitespace → space), space out CJK ideographs, strip accents (NFD, drop Mn), lowercase (per character, the full
// Unicode lowercase mapping like Rust's `char::to_lowercase`).
import Foundation

public struct BertNormalizer: Sendable, Equatable {
    public var cleanText: Bool
    public var handleChineseChars: Bool
    /// Resolved: the file's `strip_accents`, or `lowercase` when it is null.
    public var stripAccents: Bool
    public var lowercase: Bool

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }

    /// The normalized text (for tests and `dojo tokenize`; the tokenizer uses `normalize(_:into:)`).
    public func normalize(_ text: String) -> String {
        var out: [UInt32] = []
        normalize(text.unicodeScalars.map(\.value), into: &out)
        var s = String.UnicodeScalarView()
        for v in out { if let u = Unicode.Scalar(v) { s.append(u) } }
        return String(s)
    }

    /// Appends the normalized form of `input` (scalar values) to `out`.
    /// ASCII runs take a fast path; only text with non-ASCII scalars pays for
    /// Foundation's NFD, once per call.
    public func normalize(_ input: [UInt32], into out: inout [UInt32]) {
        let start = out.count
        var nonASCII = false
        // Clean text and CJK spacing.
        for c in input {
            if c < 0x80 {
                if cleanText {
                    if c == 0x09 || c == 0x0A || c == 0x0D || c == 0x20 { out.append(0x20); continue }
                    // Other C0 controls and DEL are dropped, VT and FF too:
                    // HF tests "control" before "whitespace".
                    if c < 0x20 || c == 0x7F { continue }
                }
                out.append(lowercase && c >= 0x41 && c <= 0x5A ? c + 0x20 : c)
                continue
            }
            if cleanText {
                if c == 0xFFFD || Self.isOther(c) { continue }
                if Self.isWhitespace(c) { out.append(0x20); continue }
            }
            if handleChineseChars && Self.isChinese(c) {
                out.append(0x20); out.append(c); out.append(0x20)
                nonASCII = true  // compatibility ideographs (U+F900…) decompose under NFD
                continue
            }
            nonASCII = true
            out.append(c)
        }
        guard nonASCII, stripAccents || lowercase else { return }

        // ASCII was lowercased above; that commutes with NFD and Mn removal
        // (ASCII letters neither decompose nor are marks), so the rest works
        // on the whole cleaned text in HF's order: NFD, drop Mn, lowercase.
        var scalars = Array(out[start...])
        out.removeSubrange(start...)
        if stripAccents {
            var view = String.UnicodeScalarView()
            for v in scalars { if let u = Unicode.Scalar(v) { view.append(u) } }
            let nfd = String(view).decomposedStringWithCanonicalMapping
            scalars.removeAll(keepingCapacity: true)
            for u in nfd.unicodeScalars where u.properties.generalCategory != .nonspacingMark {
                scalars.append(u.value)
            }
        }
        for c in scalars {
            if c < 0x80 || !lowercase {
                // NFD can expose uppercase ASCII bases ("À" → "A" + U+0300).
                out.append(lowercase && c >= 0x41 && c <= 0x5A ? c + 0x20 : c)
            } else if let u = Unicode.Scalar(c), u.properties.changesWhenLowercased {
                for l in u.properties.lowercaseMapping.unicodeScalars { out.append(l.value) }
            } else {
                out.append(c)
            }
        }
    }

    // MARK: character classes (as in HF tokenizers' normalizers::bert and pre_tokenizers::bert)

    /// Rust's `char::is_whitespace` (Unicode White_Space).
    @inline(__always)
    public static func isWhitespace(_ c: UInt32) -> Bool {
        if c < 0x80 { return c == 0x20 || (c >= 0x09 && c <= 0x0D) }
        guard let u = Unicode.Scalar(c) else { return false }
        return u.properties.isWhitespace
    }

    /// Unicode "other" (Cc, Cf, Cs, Co, Cn): what clean_text drops, except \t \n \r.
    public static func isOther(_ c: UInt32) -> Bool {
        if c == 0x09 || c == 0x0A || c == 0x0D { return false }
        guard let u = Unicode.Scalar(c) else { return true }
        switch u.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    /// BERT's punctuation: ASCII punctuation (33–47, 58–64, 91–96, 123–126) or Unicode P*.
    @inline(__always)
    public static func isPunctuation(_ c: UInt32) -> Bool {
        if c < 0x80 {
            return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)
        }
        guard let u = Unicode.Scalar(c) else { return false }
        switch u.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// CJK ideograph blocks that BERT spaces out (the ranges of HF's `is_chinese_char`).
    @inline(__always)
    public static func isChinese(_ c: UInt32) -> Bool {
        (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
            || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
            || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F)
    }
}
