import Foundation

/// Checks that say why a document cannot be processed, before any model runs.
enum DocumentChecks {
    /// nil when the text is usable; otherwise the reason for the error record (never quoting the text).
    static func problem(_ s: [Unicode.Scalar]) -> String? {
        guard s.contains(where: { !TextScan.isSpace($0) }) else { return "document is empty (no text after whitespace)" }
        var junk = 0
        for c in s where (c.value < 0x20 && c != "\n" && c != "\r" && c != "\t") || c == "\u{FFFD}" || (c.value >= 0x7F && c.value < 0xA0) {
            junk += 1
        }
        if junk * 10 > s.count {
            return "document does not look like text (\(junk * 100 / s.count)% control or replacement characters); is it a binary file?"
        }
        return nil
    }

    static let englishWords: Set<String> = ["the", "and", "of", "to", "with", "is", "was", "in", "for", "a", "on", "he", "she", "patient", "no", "or", "by", "shall", "be", "this", "any"]

    /// A warning when few words are common English ones (the rules are written for English).
    static func languageWarning(_ text: String) -> String? {
        var total = 0, english = 0
        for w in text.lowercased().split(whereSeparator: { !$0.isLetter }).prefix(2000) {
            total += 1
            if englishWords.contains(String(w)) { english += 1 }
        }
        guard total >= 20, english * 100 < total * 10 else { return nil }
        return "the text does not look like English (\(english) of \(total) words are common English words); headings, extraction rules and zero-shot prompts are English-only, so results may be incomplete"
    }
}
