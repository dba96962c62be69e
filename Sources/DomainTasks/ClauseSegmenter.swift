import Foundation

/// Cuts a contract into clauses. Offsets are **Unicode scalar** offsets into the original text
/// (`text.unicodeScalars`), half-open `[start, end)`, with surrounding whitespace excluded.
///
/// Rules, in order, all linear in the text's length:
/// 1. Lines end at a line break or at a run of three or more spaces/tabs (EDGAR filings such as
///    CUAD's use such runs instead of line breaks).
/// 2. A clause starts at a line after a blank line or a wide gap, at a line that starts with a
///    section marker ("1.", "1.1", "12.3.4", "(a)", "(iv)", "a.", "Section 5", "ARTICLE IV", "§ 3"),
///    at an upper-case heading line, and after a heading line; other lines (hard-wrapped
///    text) continue the clause.
/// 3. A heading alone ("1. DEFINITIONS.", "ARTICLE IV", "GOVERNING LAW") joins the clause after it.
/// 4. A clause longer than `maxChars` is cut at sentence ends (". ", "; ", "? " before a capital,
///    a digit or "(", abbreviations such as "Inc." excepted) into pieces of at most `maxChars`;
///    a sentence longer than that is cut at the last space before the limit.
public struct ClauseSegmenter: Sendable {
    public var maxChars: Int

    public init(maxChars: Int = 1000) { self.maxChars = max(maxChars, 40) }

    public func segment(_ text: String) -> [Range<Int>] {
        segment(Array(text.unicodeScalars))
    }

    public func segment(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        let lines = TextScan.lines(s)
        // Rule 2: group lines into units.
        var units: [(range: Range<Int>, heading: Bool)] = []
        var previousHeading = false
        for line in lines {
            let marker = TextScan.markerLength(s, line.range)
            let heading = TextScan.isHeading(s, line.range, markerLength: marker)
            if units.isEmpty || line.strong || marker > 0 || heading || previousHeading {
                units.append((line.range, heading))
            } else {
                units[units.count - 1].range = units[units.count - 1].range.lowerBound..<line.range.upperBound
                units[units.count - 1].heading = false
            }
            previousHeading = heading
        }
        // Rule 3: a heading joins the clause after it.
        var joined: [Range<Int>] = []
        var pendingStart: Int?
        for (i, unit) in units.enumerated() {
            if unit.heading && i + 1 < units.count {
                if pendingStart == nil { pendingStart = unit.range.lowerBound }
                continue
            }
            joined.append((pendingStart ?? unit.range.lowerBound)..<unit.range.upperBound)
            pendingStart = nil
        }
        // Rule 4: long clauses by sentences.
        var out: [Range<Int>] = []
        for r in joined {
            if r.count <= maxChars { out.append(r) } else { out += TextScan.packSentences(s, r, maxChars: maxChars) }
        }
        return out
    }
}

/// Scanning helpers over Unicode scalars shared by the segmenters.
enum TextScan {
    struct Line { var range: Range<Int>; var strong: Bool }

    @inline(__always) static func isNewline(_ c: Unicode.Scalar) -> Bool {
        c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}" || c == "\u{85}" || c == "\u{2028}" || c == "\u{2029}"
    }

    @inline(__always) static func isBlank(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\u{A0}" || (c.value >= 0x2000 && c.value <= 0x200A) || c == "\u{3000}" || c == "\u{202F}"
    }

    @inline(__always) static func isSpace(_ c: Unicode.Scalar) -> Bool { isBlank(c) || isNewline(c) }

    @inline(__always) static func isUpper(_ c: Unicode.Scalar) -> Bool { c.properties.isUppercase }
    @inline(__always) static func isLower(_ c: Unicode.Scalar) -> Bool { c.properties.isLowercase }
    @inline(__always) static func isLetter(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic }
    @inline(__always) static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 48 && c.value <= 57 }

    /// Non-empty lines, trimmed; `strong` when a blank line, a wide gap (3+ blanks) or the start precedes it.
    static func lines(_ s: [Unicode.Scalar]) -> [Line] {
        var out: [Line] = []
        let n = s.count
        var pos = 0
        var strong = true
        while pos < n {
            // The gap before the line.
            var newlines = 0, run = 0, widest = 0
            while pos < n && isSpace(s[pos]) {
                if isNewline(s[pos]) {
                    if !(s[pos] == "\n" && pos > 0 && s[pos - 1] == "\r") { newlines += 1 }
                    run = 0
                } else { run += 1; widest = max(widest, run) }
                pos += 1
            }
            if pos >= n { break }
            if newlines >= 2 || widest >= 3 { strong = true }
            // The line: up to a line break or a run of three blanks.
            let start = pos
            var end = pos, blanks = 0
            while pos < n && !isNewline(s[pos]) {
                if isBlank(s[pos]) {
                    blanks += 1
                    if blanks == 3 { break }
                } else { blanks = 0; end = pos + 1 }
                pos += 1
            }
            if blanks == 3 { pos -= 2 }  // let the gap scan see the whole run
            out.append(Line(range: start..<end, strong: strong))
            strong = false
        }
        return out
    }

    /// Length of a section marker at the start of `r` (including the blank after it), or 0.
    static func markerLength(_ s: [Unicode.Scalar], _ r: Range<Int>) -> Int {
        var i = r.lowerBound
        let end = r.upperBound
        func blankAfter(_ j: Int) -> Int { j < end && isBlank(s[j]) ? j + 1 - r.lowerBound : (j == end ? j - r.lowerBound : 0) }
        guard i < end else { return 0 }
        // "Section 5", "ARTICLE IV", "Sec. 3", "§ 3"
        for word in ["section", "article", "sec.", "clause", "schedule", "exhibit", "§"] {
            let w = Array(word.unicodeScalars)
            if r.count > w.count, (0..<w.count).allSatisfy({ Character(s[i + $0]).lowercased() == String(w[$0]) }) {
                var j = i + w.count
                while j < end && isBlank(s[j]) { j += 1 }
                let k = j
                while j < end && (isDigit(s[j]) || "IVXLCivxlc.".unicodeScalars.contains(s[j]) || (j > k && isUpper(s[j]) && j - k < 2)) { j += 1 }
                if j > k && (word != "§" || isDigit(s[k])) { return max(blankAfter(j), j - r.lowerBound) }
                return 0
            }
        }
        // "(a)", "(iv)", "(12)", "(A)"
        if s[i] == "(" {
            var j = i + 1
            while j < end && j - i <= 5 && (isLetter(s[j]) || isDigit(s[j])) { j += 1 }
            if j > i + 1 && j < end && s[j] == ")" { return blankAfter(j + 1) }
            return 0
        }
        // "1.", "1.1", "12.3.4.", "1)", "IV."; "a." / "A." followed by a blank
        if isDigit(s[i]) {
            var j = i
            while j < end && (isDigit(s[j]) || (s[j] == "." && j + 1 <= end)) {
                if s[j] == "." && j + 1 < end && s[j + 1] == "." { break }
                j += 1
            }
            if j < end && s[j] == ")" { j += 1 }
            let text = s[i..<j]
            let hasDot = text.contains(".") || text.last == ")"
            let digits = text.filter(isDigit).count
            // A bare number ("2016 revenue") is not a marker; "1." and "1.1" are.
            if hasDot && digits <= 6 { return blankAfter(j) }
            return 0
        }
        var j = i
        while j < end && "IVXLC".unicodeScalars.contains(s[j]) { j += 1 }
        if j > i && j - i <= 5 && j < end && s[j] == "." { return blankAfter(j + 1) }
        if isLetter(s[i]) && i + 1 < end && s[i + 1] == "." && i + 2 < end && isBlank(s[i + 2]) { return 3 }
        return 0
    }

    /// An upper-case heading line: at most 100 scalars and 12 words, letters all upper case (after the marker).
    static func isHeading(_ s: [Unicode.Scalar], _ r: Range<Int>, markerLength: Int) -> Bool {
        guard r.count <= 100 else { return false }
        var letters = 0, words = 1
        for i in (r.lowerBound + markerLength)..<r.upperBound {
            let c = s[i]
            if isBlank(c) { words += 1 }
            if isLower(c) { return false }
            if isLetter(c) { letters += 1 }
        }
        if letters >= 2 && words <= 12 { return true }
        // "Section 5. Term." / "1.1 Term" — a marker and a short title without a sentence.
        if markerLength > 0 {
            let rest = Array(s[(r.lowerBound + markerLength)..<r.upperBound])
            let restWords = rest.split(whereSeparator: isBlank).count
            if restWords == 0 { return true }
            // Title case: every word capitalised except short joining words.
            let small: Set<String> = ["of", "and", "the", "for", "to", "in", "on", "or", "a", "an", "by", "with"]
            let titleWords = rest.split(whereSeparator: isBlank).map { String(String.UnicodeScalarView($0)) }
            if restWords <= 6, rest.allSatisfy({ $0 != "," && $0 != ";" }), !rest.dropLast().contains("."),
               titleWords.allSatisfy({ w in small.contains(w) || w.unicodeScalars.first.map { !isLower($0) } ?? true }),
               let first = rest.first(where: isLetter), isUpper(first) { return true }
        }
        return false
    }

    static let abbreviations: Set<String> = [
        "inc", "ltd", "corp", "co", "no", "nos", "sec", "art", "mr", "mrs", "ms", "dr", "st", "vs", "etc", "e.g", "i.e",
        "u.s", "n.a", "l.l.c", "l.p", "s.a", "b.v", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sept", "sep", "oct",
        "nov", "dec", "para", "cf", "approx", "dept", "est", "fig", "vol", "pp", "p", "ibid", "jr", "sr", "ave", "blvd",
    ]

    /// Sentence ends inside `r`: offsets just after the punctuation.
    static func sentenceEnds(_ s: [Unicode.Scalar], _ r: Range<Int>) -> [Int] {
        var ends: [Int] = []
        var i = r.lowerBound
        while i < r.upperBound - 1 {
            let c = s[i]
            if (c == "." || c == "?" || c == "!" || c == ";"), isSpace(s[i + 1]) {
                var j = i + 1
                while j < r.upperBound && isSpace(s[j]) { j += 1 }
                if j < r.upperBound {
                    let next = s[j]
                    var ok = c == ";" || isUpper(next) || isDigit(next) || next == "(" || next == "\"" || next == "\u{201C}"
                    if ok && c == "." {
                        // The word before the period.
                        var k = i
                        while k > r.lowerBound && !isSpace(s[k - 1]) && s[k - 1] != "(" { k -= 1 }
                        let word = String(String.UnicodeScalarView(s[k..<i])).lowercased()
                        if abbreviations.contains(word) || (word.count == 1 && word.unicodeScalars.allSatisfy(isLetter)) { ok = false }
                    }
                    if ok { ends.append(i + 1) }
                }
            }
            i += 1
        }
        return ends
    }

    /// Cuts `r` at sentence ends into trimmed pieces of at most `maxChars` (a longer sentence at blanks).
    static func packSentences(_ s: [Unicode.Scalar], _ r: Range<Int>, maxChars: Int) -> [Range<Int>] {
        var pieces: [Range<Int>] = []
        var start = r.lowerBound
        var lastEnd: Int?
        func emit(_ a: Int, _ b: Int) {
            var a = a, b = b
            while a < b && isSpace(s[a]) { a += 1 }
            while b > a && isSpace(s[b - 1]) { b -= 1 }
            if a < b { pieces.append(a..<b) }
        }
        for end in sentenceEnds(s, r) + [r.upperBound] {
            if end - start <= maxChars { lastEnd = end; continue }
            if let l = lastEnd, l > start { emit(start, l); start = l }
            while end - start > maxChars {
                // One sentence over the limit: cut at the last blank before it.
                var cut = start + maxChars
                var k = cut
                while k > start + maxChars / 2 && !isSpace(s[k]) { k -= 1 }
                if isSpace(s[k]) { cut = k }
                emit(start, cut)
                start = cut
            }
            lastEnd = end
        }
        emit(start, r.upperBound)
        return pieces
    }

    /// The string of a scalar range.
    static func string(_ s: [Unicode.Scalar], _ r: Range<Int>) -> String {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: s[r])
        return String(v)
    }
}
