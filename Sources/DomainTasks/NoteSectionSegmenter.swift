import Foundation

/// A section of a clinical note. Offsets are Unicode scalar offsets into the note, half-open.
public struct NoteSection: Sendable, Equatable {
    /// The whole section: heading and body.
    public var range: Range<Int>
    /// The heading's words without the colon (nil for text before the first heading).
    public var heading: Range<Int>?
    public var body: Range<Int>
    /// The MTS-Dialog section type the heading names (GENHX, MEDICATIONS, …), or nil when the
    /// heading is unknown or absent (the task may then ask a classifier).
    public var type: String?
}

/// Cuts a clinical note at its section headings, linear in the note's length.
///
/// A heading is an upper-case phrase followed by a colon ("HISTORY OF PRESENT ILLNESS:", "HEENT:"),
/// a known heading in any case followed by a colon ("Assessment/Plan:", "Past medical history:"),
/// or an upper-case line of its own ("CHIEF COMPLAINT"). It must start the text, a line, or follow
/// a comma or a sentence end (MTSamples writes ",MEDICATIONS: ,"). Vital-sign labels ("BP:",
/// "HR:") are not headings. Heading types are normalised to MTS-Dialog's 20 codes.
public struct NoteSectionSegmenter: Sendable {
    public init() {}

    public func segment(_ text: String) -> [NoteSection] { segment(Array(text.unicodeScalars)) }

    public func segment(_ s: [Unicode.Scalar]) -> [NoteSection] {
        let n = s.count
        var headings: [(heading: Range<Int>, bodyStart: Int)] = []
        var i = 0
        var candidate = true
        while i < n {
            let c = s[i]
            if candidate, !TextScan.isSpace(c), let h = Self.heading(s, at: i) {
                headings.append(h)
                i = h.bodyStart
                candidate = false
                continue
            }
            if TextScan.isNewline(c) || c == "," { candidate = true }
            else if (c == "." || c == "?" || c == "!" || c == ";") { candidate = true }
            else if !TextScan.isSpace(c) { candidate = false }
            i += 1
        }
        var sections: [NoteSection] = []
        func trimmed(_ a: Int, _ b: Int) -> Range<Int> {
            var a = a, b = b
            while a < b && (TextScan.isSpace(s[a]) || s[a] == ",") { a += 1 }
            while b > a && (TextScan.isSpace(s[b - 1]) || s[b - 1] == ",") { b -= 1 }
            return a..<b
        }
        let firstStart = headings.first?.heading.lowerBound ?? n
        let lead = trimmed(0, firstStart)
        if !lead.isEmpty { sections.append(NoteSection(range: lead, heading: nil, body: lead, type: nil)) }
        for (k, h) in headings.enumerated() {
            let end = k + 1 < headings.count ? headings[k + 1].heading.lowerBound : n
            var body = trimmed(h.bodyStart, end)
            if body.isEmpty { body = h.bodyStart..<h.bodyStart }
            let whole = h.heading.lowerBound..<max(body.upperBound, h.heading.upperBound)
            let name = TextScan.string(s, h.heading)
            sections.append(NoteSection(range: whole, heading: h.heading, body: body, type: Self.sectionType(name)))
        }
        return sections
    }

    /// A heading starting at `i`: its words and where its body starts.
    static func heading(_ s: [Unicode.Scalar], at i: Int) -> (heading: Range<Int>, bodyStart: Int)? {
        let n = s.count
        var j = i, letters = 0, lower = 0, words = 1
        while j < n && j - i < 60 {
            let c = s[j]
            if c == ":" { break }
            if TextScan.isNewline(c) { break }
            if TextScan.isLetter(c) { letters += 1; if TextScan.isLower(c) { lower += 1 } }
            else if TextScan.isBlank(c) { if j > i && !TextScan.isBlank(s[j - 1]) { words += 1 } }
            else if !(TextScan.isDigit(c) || "/&()'-.".unicodeScalars.contains(c)) { return nil }
            j += 1
        }
        guard letters >= 2, words <= 8, j > i else { return nil }
        var end = j
        while end > i && TextScan.isBlank(s[end - 1]) { end -= 1 }
        let name = TextScan.string(s, i..<end)
        let key = Self.key(name)
        if vitalLabels.contains(key) { return nil }
        if j < n && s[j] == ":" {
            guard lower == 0 || known[key] != nil else { return nil }
            return (i..<end, j + 1)
        }
        // An upper-case line on its own (no colon): must end at a line break and be short.
        if (j == n || TextScan.isNewline(s[j])) && lower == 0 && words <= 6 && (i == 0 || TextScan.isNewline(s[i - 1])) && j < n {
            return (i..<end, j)
        }
        return nil
    }

    static let vitalLabels: Set<String> = ["bp", "hr", "rr", "t", "p", "r", "spo2", "o2 sat", "wt", "ht", "temp", "pulse", "o2", "sat", "dr", "mr", "mrs", "ms", "note", "cc's", "a.m", "p.m"]

    static func key(_ heading: String) -> String {
        heading.lowercased().split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// Headings a writer may put in any case, and their types.
    static let known: [String: String] = [
        "chief complaint": "CC", "reason for visit": "CC", "reason for consultation": "CC", "reason for consult": "CC",
        "history of present illness": "GENHX", "hpi": "GENHX", "history": "GENHX", "subjective": "GENHX",
        "past medical history": "PASTMEDICALHX", "pmh": "PASTMEDICALHX", "medical history": "PASTMEDICALHX",
        "past surgical history": "PASTSURGICAL", "psh": "PASTSURGICAL", "surgical history": "PASTSURGICAL",
        "family history": "FAM/SOCHX", "social history": "FAM/SOCHX", "family and social history": "FAM/SOCHX",
        "medications": "MEDICATIONS", "current medications": "MEDICATIONS", "meds": "MEDICATIONS", "medication": "MEDICATIONS",
        "allergies": "ALLERGY", "allergy": "ALLERGY", "drug allergies": "ALLERGY",
        "review of systems": "ROS", "ros": "ROS",
        "physical exam": "EXAM", "physical examination": "EXAM", "exam": "EXAM", "examination": "EXAM", "objective": "EXAM",
        "vital signs": "EXAM", "vitals": "EXAM",
        "assessment": "ASSESSMENT", "impression": "ASSESSMENT", "assessment/plan": "ASSESSMENT", "assessment and plan": "ASSESSMENT",
        "a/p": "ASSESSMENT", "assessment & plan": "ASSESSMENT",
        "plan": "PLAN", "recommendations": "PLAN", "diagnosis": "DIAGNOSIS", "diagnoses": "DIAGNOSIS",
        "disposition": "DISPOSITION", "ed course": "EDCOURSE", "hospital course": "EDCOURSE",
        "immunizations": "IMMUNIZATIONS", "imaging": "IMAGING", "labs": "LABS", "laboratory data": "LABS",
        "procedure": "PROCEDURES", "procedures": "PROCEDURES",
    ]

    /// The MTS-Dialog type a heading names, by exact name first, then by its words.
    public static func sectionType(_ heading: String) -> String? {
        let k = key(heading)
        if let t = known[k] { return t }
        let rules: [(String, String)] = [
            ("chief complaint", "CC"), ("reason for", "CC"), ("present illness", "GENHX"), ("interval history", "GENHX"),
            ("past medical", "PASTMEDICALHX"), ("surgical", "PASTSURGICAL"), ("family", "FAM/SOCHX"), ("social", "FAM/SOCHX"),
            ("allerg", "ALLERGY"), ("medication", "MEDICATIONS"), ("review of system", "ROS"), ("immuniz", "IMMUNIZATIONS"),
            ("vaccin", "IMMUNIZATIONS"), ("gyn", "GYNHX"), ("obstetric", "GYNHX"), ("menstrual", "GYNHX"),
            ("course", "EDCOURSE"), ("disposition", "DISPOSITION"), ("diagnos", "DIAGNOSIS"), ("impression", "ASSESSMENT"),
            ("assessment", "ASSESSMENT"), ("plan", "PLAN"), ("recommendation", "PLAN"), ("procedure", "PROCEDURES"),
            ("operation", "PROCEDURES"), ("anesthesia", "PROCEDURES"), ("x-ray", "IMAGING"), ("radiolog", "IMAGING"),
            ("imaging", "IMAGING"), ("mri", "IMAGING"), ("ct ", "IMAGING"), ("ultrasound", "IMAGING"), ("lab", "LABS"),
            ("exam", "EXAM"), ("physical", "EXAM"), ("vital", "EXAM"), ("heent", "EXAM"), ("neck", "EXAM"), ("lungs", "EXAM"),
            ("heart", "EXAM"), ("cardiovascular", "EXAM"), ("abdomen", "EXAM"), ("extremities", "EXAM"), ("neuro", "EXAM"),
            ("skin", "EXAM"), ("general", "EXAM"), ("musculoskeletal", "EXAM"), ("chest", "EXAM"), ("objective", "EXAM"),
            ("subjective", "GENHX"), ("history", "OTHER_HISTORY"),
        ]
        for (word, type) in rules where (k + " ").contains(word) { return type }
        return nil
    }
}
