import Foundation

/// A field of an extracted item: its text and scalar offsets into the note.
public struct Field: Sendable, Equatable {
    public var text: String
    public var start: Int
    public var end: Int
    public init(_ text: String, _ start: Int, _ end: Int) { self.text = text; self.start = start; self.end = end }
    var json: String { "{\"text\":\(JSONText.quote(text)),\"start\":\(start),\"end\":\(end)}" }
}

public struct Medication: Sendable, Equatable {
    public var name: Field
    public var dose: Field?
    public var route: Field?
    public var frequency: Field?
    public var start: Int
    public var end: Int

    var json: String {
        var s = "{\"name\":\(name.json)"
        if let dose { s += ",\"dose\":\(dose.json)" }
        if let route { s += ",\"route\":\(route.json)" }
        if let frequency { s += ",\"frequency\":\(frequency.json)" }
        return s + ",\"start\":\(start),\"end\":\(end)}"
    }
}

public struct Allergy: Sendable, Equatable {
    /// The substance, or "NKDA" for no known drug allergies (then `none` is true).
    public var substance: String
    public var none: Bool
    public var start: Int
    public var end: Int
    var json: String { "{\"substance\":\(JSONText.quote(substance)),\(none ? "\"none\":true," : "")\"start\":\(start),\"end\":\(end)}" }
}

public struct Vital: Sendable, Equatable {
    /// bp, hr, rr, temp, spo2, weight.
    public var type: String
    /// As written: "132/84", "72", "98.6".
    public var value: String
    public var unit: String?
    /// The whole mention, label included.
    public var start: Int
    public var end: Int
    public init(type: String, value: String, unit: String?, start: Int, end: Int) {
        self.type = type; self.value = value; self.unit = unit; self.start = start; self.end = end
    }
    var json: String {
        "{\"type\":\"\(type)\",\"value\":\(JSONText.quote(value))" + (unit.map { ",\"unit\":\(JSONText.quote($0))" } ?? "") + ",\"start\":\(start),\"end\":\(end)}"
    }
}

/// Rule-based extraction from clinical notes: medications, allergies, vital signs, problems.
/// Offsets are Unicode scalar offsets into the note.
public enum ClinicalExtraction {
    static let doseUnit = "(?:mg|mcg|µg|g|gm|grams?|ml|cc|units?|iu|meq|%|puffs?|tablets?|tabs?|capsules?|caps?|drops?|sprays?)"
    static let route = "PO|p\\.o\\.|IV|IM|SC|SQ|subcutaneous(?:ly)?|intravenous(?:ly)?|intramuscular(?:ly)?|by mouth|orally|oral|topical(?:ly)?|inhaled|nebulized|PR|per rectum|SL|sublingual(?:ly)?|transdermal|intranasal|ophthalmic"
    static let frequency = "once daily|twice daily|three times (?:a|per) day|four times (?:a|per) day|once a day|twice a day|once a week|daily|nightly|weekly|monthly|b\\.?i\\.?d\\.?|t\\.?i\\.?d\\.?|q\\.?i\\.?d\\.?|q\\.?h\\.?s\\.?|q\\.?d\\.?|q\\.?a\\.?m\\.?|q\\s?\\d+\\s?(?:h|hr|hrs|hours)\\b|every \\d+(?:\\s?(?:to|-)\\s?\\d+)? hours|every (?:morning|evening|night|day|other day)|at bedtime|in the (?:morning|evening)|p\\.?r\\.?n\\.?|as needed"
    static let medication = Pattern(
        "\\b([A-Za-z][A-Za-z0-9-]{2,}(?:\\s+(?:XL|SR|ER|XR|CR|HCT|DS|ODT))?)\\s+(\\d+(?:\\.\\d+)?(?:/\\d+(?:\\.\\d+)?)?\\s*\(doseUnit))(?![A-Za-z])"
        + "(?:\\s*,?\\s*(\(route))(?![A-Za-z]))?(?:\\s*,?\\s*(\(frequency))(?![A-Za-z]))?")
    static let notNames: Set<String> = [
        "of", "to", "and", "the", "with", "was", "is", "on", "at", "for", "in", "by", "from", "given", "received", "dose", "doses",
        "total", "about", "approximately", "than", "taking", "takes", "take", "took", "increased", "decreased", "started", "start",
        "continue", "plus", "then", "also", "weighs", "weight", "weighing", "blood", "loss", "lost", "over", "under", "were", "are",
        "has", "had", "have", "her", "his", "spo2", "sat", "sats", "saturation", "o2", "oxygen", "ox", "oximetry", "fio2", "every", "additional", "another", "bolus", "drip", "infusion", "using", "use", "via",
    ]
    static let nkda = Pattern("\\b(?:NKDA|NKA|no\\s+known\\s+(?:drug\\s+|medication\\s+|medicine\\s+)?allergies)\\b")
    static let allergicTo = Pattern("allergi(?:c|es)\\s+to\\s+([A-Za-z][A-Za-z0-9 -]{1,40}?)(?=\\s*(?:[,.;)]|\\s+and\\b|\\s+which\\b|\\s+with\\b|$))")
    static let vitalPatterns: [(String, Pattern, String?)] = [
        ("bp", Pattern("(?:\\b(?i:blood\\s+pressure)|\\bBP|\\bB/P)\\s*(?:(?i:is|was|of)\\s*)?:?\\s*(\\d{2,3}\\s*/\\s*\\d{2,3})", caseInsensitive: false), "mmHg"),
        ("hr", Pattern("(?:\\b(?i:heart\\s+rate|pulse(?:\\s+rate)?)|\\bHR|\\bP)\\s*(?:(?i:is|was|of)\\s*)?:?\\s*(\\d{2,3})(?![\\d/]|\\.\\d)(?:\\s*(?i:bpm|beats per minute))?", caseInsensitive: false), nil),
        ("rr", Pattern("(?:\\b(?i:respiratory\\s+rate|respirations|resp(?:irations)?)|\\bRR|\\bR)\\s*(?:(?i:is|was|of)\\s*)?:?\\s*(\\d{1,2})(?![\\d/]|\\.\\d)", caseInsensitive: false), nil),
        ("temp", Pattern("(?:\\b(?i:temperature|temp)|\\bT(?:max)?)\\s*(?:(?i:is|was|of)\\s*)?:?\\s*(\\d{2,3}(?:\\.\\d{1,2})?)(?!\\d)\\s*(?:°|(?i:degrees?))?\\s*([FC](?![A-Za-z]))?", caseInsensitive: false), nil),
        ("spo2", Pattern("(?:\\b(?i:SpO2|O2\\s+sat(?:uration)?s?|oxygen\\s+saturation|pulse\\s+ox(?:imetry)?|sat(?:uration)?s?))\\s*(?:(?i:is|was|of)\\s*)?:?\\s*(\\d{2,3})\\s*%", caseInsensitive: false), "%"),
        ("weight", Pattern("\\b(?:weight|wt)\\.?\\s*(?:is|was|of)?\\s*:?\\s*(\\d{1,3}(?:\\.\\d+)?)\\s*(kg|kilograms?|lbs?|pounds?)\\b"), nil),
    ]

    /// Medications with dose (anywhere), and list items of medication sections.
    public static func medications(_ note: ScalarTextRef, sections: [NoteSection] = []) -> [Medication] {
        var out: [Medication] = []
        for m in medication.matches(in: note.text) {
            guard let nameR = m[1], let doseR = m[2] else { continue }
            let name = note.text.text(nameR)
            if notNames.contains(name.lowercased()) || name.allSatisfy({ $0.isNumber }) { continue }
            func field(_ r: Range<Int>?) -> Field? { r.map { Field(note.text.text($0), $0.lowerBound, $0.upperBound) } }
            out.append(Medication(name: field(nameR)!, dose: field(doseR), route: field(m[3]), frequency: field(m[4]),
                                  start: m[0]!.lowerBound, end: m[0]!.upperBound))
        }
        // Short list items in medication sections ("Aspirin, Lipitor and Plavix").
        for section in sections where section.type == "MEDICATIONS" {
            for item in listItems(note.text.scalars, section.body) where !out.contains(where: { $0.start < item.upperBound && item.lowerBound < $0.end }) {
                let words = note.text.text(item).split(separator: " ")
                guard let first = words.first, words.count <= 4, first.first?.isUppercase == true,
                      !["None", "No", "Denies", "He", "She", "The", "Her", "His", "Patient", "NONE", "Unknown", "See"].contains(String(first)),
                      !notNames.contains(first.lowercased()) else { continue }
                let nameEnd = item.lowerBound + first.unicodeScalars.count
                out.append(Medication(name: Field(String(first), item.lowerBound, nameEnd), dose: nil, route: nil, frequency: nil,
                                      start: item.lowerBound, end: item.upperBound))
            }
        }
        return out.sorted { $0.start < $1.start }
    }

    /// Allergies: "NKDA"/"no known drug allergies", "allergic to X", and short items of allergy sections.
    public static func allergies(_ note: ScalarTextRef, sections: [NoteSection] = []) -> [Allergy] {
        var out: [Allergy] = []
        for m in nkda.matches(in: note.text) { out.append(Allergy(substance: "NKDA", none: true, start: m[0]!.lowerBound, end: m[0]!.upperBound)) }
        for m in allergicTo.matches(in: note.text) {
            guard let r = m[1] else { continue }
            out.append(Allergy(substance: note.text.text(r), none: false, start: r.lowerBound, end: r.upperBound))
        }
        for section in sections where section.type == "ALLERGY" {
            for item in listItems(note.text.scalars, section.body) where !out.contains(where: { $0.start < item.upperBound && item.lowerBound < $0.end }) {
                let text = note.text.text(item)
                let words = text.split(separator: " ")
                guard words.count <= 3, let f = words.first, !["none", "no", "denies", "nka", "nkda", "he", "she", "the"].contains(f.lowercased()) else { continue }
                out.append(Allergy(substance: text, none: false, start: item.lowerBound, end: item.upperBound))
            }
        }
        return out.sorted { $0.start < $1.start }
    }

    /// Vital signs with plausible values.
    public static func vitals(_ note: ScalarTextRef) -> [Vital] {
        var out: [Vital] = []
        for (type, pattern, defaultUnit) in vitalPatterns {
            for m in pattern.matches(in: note.text) {
                guard let v = m[1] else { continue }
                let value = note.text.text(v).replacingOccurrences(of: " ", with: "")
                var unit = m.count > 2 ? m[2].map { note.text.text($0) } : nil
                let number = Double(value.split(separator: "/").first.map(String.init) ?? "") ?? 0
                switch type {
                case "hr": guard (20...250).contains(number) else { continue }
                case "rr": guard (4...80).contains(number) else { continue }
                case "temp":
                    guard (30...45).contains(number) || (90...110).contains(number) else { continue }
                    if unit == nil { unit = number > 50 ? "F" : "C" }
                case "spo2": guard (50...100).contains(number) else { continue }
                case "bp": guard (50...300).contains(number) else { continue }
                default: break
                }
                if out.contains(where: { $0.start < m[0]!.upperBound && m[0]!.lowerBound < $0.end }) { continue }
                out.append(Vital(type: type, value: value, unit: unit ?? defaultUnit, start: m[0]!.lowerBound, end: m[0]!.upperBound))
            }
        }
        return out.sorted { $0.start < $1.start }
    }

    /// Problems: the items of assessment and diagnosis sections.
    public static func problems(_ note: ScalarTextRef, sections: [NoteSection]) -> [Field] {
        var out: [Field] = []
        for section in sections where section.type == "ASSESSMENT" || section.type == "DIAGNOSIS" {
            for item in listItems(note.text.scalars, section.body, sentences: true) where item.count <= 200 {
                out.append(Field(note.text.text(item), item.lowerBound, item.upperBound))
            }
        }
        return out
    }

    /// Items of a list: split at commas, semicolons, line breaks, " and ", numbers ("1.", "2)"), and (with `sentences`) sentence ends;
    /// trimmed of spaces, bullets and final periods.
    static func listItems(_ s: [Unicode.Scalar], _ r: Range<Int>, sentences: Bool = false) -> [Range<Int>] {
        var cuts: [(Int, Int)] = []  // (end of previous item, start of next)
        var i = r.lowerBound
        while i < r.upperBound {
            let c = s[i]
            if c == "," || c == ";" || TextScan.isNewline(c) { cuts.append((i, i + 1)) }
            else if sentences && (c == "." || c == "?" || c == "!") && (i + 1 == r.upperBound || TextScan.isSpace(s[i + 1])) { cuts.append((i, i + 1)) }
            else if c == " " && i + 4 < r.upperBound && s[i + 1] == "a" && s[i + 2] == "n" && s[i + 3] == "d" && s[i + 4] == " " && !sentences {
                cuts.append((i, i + 5))
            } else if TextScan.isDigit(c) && (i == r.lowerBound || TextScan.isSpace(s[i - 1])) {
                var j = i
                while j < r.upperBound && TextScan.isDigit(s[j]) { j += 1 }
                if j < r.upperBound && (s[j] == "." || s[j] == ")") && (j + 1 == r.upperBound || TextScan.isSpace(s[j + 1])) { cuts.append((i, j + 1)); i = j }
            }
            i += 1
        }
        var items: [Range<Int>] = []
        var start = r.lowerBound
        for (end, next) in cuts + [(r.upperBound, r.upperBound)] {
            var a = start, b = end
            while a < b && (TextScan.isSpace(s[a]) || s[a] == "-" || s[a] == "*" || s[a] == "•") { a += 1 }
            while b > a && (TextScan.isSpace(s[b - 1]) || s[b - 1] == ".") { b -= 1 }
            if a < b { items.append(a..<b) }
            start = next
        }
        return items
    }
}

/// A note's text prepared once for every pattern (shared scalars and offset map).
public final class ScalarTextRef {
    let text: ScalarText
    public init(_ string: String) { text = ScalarText(string) }
    public var scalars: [Unicode.Scalar] { text.scalars }
}
