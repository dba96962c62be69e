import Foundation

/// A typed clause as the answer and flag rules see it.
public struct TypedClause: Sendable {
    /// Scalar offsets into the contract.
    public var range: Range<Int>
    public var type: String
    public var score: Float

    public init(range: Range<Int>, type: String, score: Float) {
        self.range = range; self.type = type; self.score = score
    }
}

/// Key answers of a contract, found by rules over its typed clauses (and its opening for dates and parties).
///
/// Keys (each a `Found` with scalar offsets, absent when not found): `parties` (a list),
/// `agreement_date`, `effective_date`, `expiration_date`, `renewal_term`, `notice_period`,
/// `governing_law`, `liability_cap`. Clauses typed as the matching CUAD category are searched
/// first, then every clause that carries the key words.
public enum ContractAnswers {
    static let month = "(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan\\.?|Feb\\.?|Mar\\.?|Apr\\.?|Jun\\.?|Jul\\.?|Aug\\.?|Sept?\\.?|Oct\\.?|Nov\\.?|Dec\\.?)"
    static let dateRE = "(?:\(month)\\s+\\d{1,2}(?:st|nd|rd|th)?,?\\s+\\d{4}|\\d{1,2}(?:st|nd|rd|th)?\\s+day\\s+of\\s+\(month),?\\s+\\d{4}|\\d{1,2}\\s+\(month),?\\s+\\d{4}|\\d{1,2}/\\d{1,2}/\\d{2,4})"
    static let number = "(?:\\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty-five|forty|sixty|ninety|one hundred (?:and )?(?:twenty|eighty)|[a-z]+-[a-z]+)"
    static let durationRE = "\(number)(?:\\s*\\(\\d+\\))?[\\s-]+(?:calendar\\s+|business\\s+|consecutive\\s+)?(?:years?|months?|days?|weeks?)"

    static let date = Pattern(dateRE)
    static let effective = Pattern("effective\\s+(?:as\\s+of\\s+|on\\s+|date\\s+(?:of|is|shall\\s+be)\\s+)(\(dateRE))")
    static let effectiveAfter = Pattern("(\(dateRE))[^.;]{0,60}?effective\\s+date")
    static let duration = Pattern(durationRE)
    static let perpetual = Pattern("\\bperpetu(?:al|ity)\\b")
    static let governingLaw = Pattern("laws?\\s+of\\s+(?:the\\s+)?(?:State\\s+of\\s+|Commonwealth\\s+of\\s+|Province\\s+of\\s+|Republic\\s+of\\s+|People's\\s+Republic\\s+of\\s+)?([A-Z][A-Za-z]+(?:\\s+(?!and\\b|without\\b|applicable\\b)[A-Z][A-Za-z]+){0,3})", caseInsensitive: false)
    static let governedBy = Pattern("govern(?:ed|ing)\\s+(?:by|law)|construed\\s+(?:in\\s+accordance|under)")
    static let money = Pattern("(?:US\\s?|U\\.S\\.\\s?)?\\$\\s?\\d[\\d,]*(?:\\.\\d+)?(?:\\s+(?:million|billion|thousand))?|\\d[\\d,]*(?:\\.\\d+)?\\s+(?:U\\.S\\.\\s+)?dollars")
    static let feesCap = Pattern("(?:total\\s+|aggregate\\s+)?(?:amounts?|fees?|sums?|payments?)\\s+(?:actually\\s+)?(?:paid|payable|received)[^.;]{0,100}?(?:preceding|prior|previous)\\s+\(durationRE)")
    static let liabilityWords = Pattern("liabilit[^.;]{0,120}(?:exceed|limited\\s+to|in\\s+excess\\s+of|greater\\s+than|capped)")
    static let renewWords = Pattern("renew|extend|extension")
    static let renewalTerm = Pattern("(?:successive|additional|consecutive|further|renewal)\\s+(?:terms?\\s+of\\s+|periods?\\s+of\\s+)?(\(durationRE))|(\(durationRE))\\s+(?:renewal|extension)")
    static let noticePeriod = Pattern("(\(durationRE))[^.;]{0,60}?(?:notice|prior\\s+to\\s+the\\s+(?:end|expiration))|notice[^.;]{0,40}?(?:at\\s+least|no\\s+(?:less|later)\\s+than|not\\s+less\\s+than)\\s+(\(durationRE))")
    static let termWords = Pattern("\\bterm\\b|expir|continue\\s+in\\s+(?:full\\s+)?(?:force|effect)")
    static let between = Pattern("between\\s+(.{2,150}?)(?:\\s*\\(|,|\\s+and\\s+)")
    static let andParty = Pattern("(?:^|[\\s),])(?:and|&)\\s+(?!the\\b|its\\b|their\\b|between\\b)([A-Z][^,(]{1,120}?)(?:\\s*\\(|,|\\.\\s|$)", caseInsensitive: false)

    /// Answers for a contract whose clauses are typed; `text` is the whole contract's scalars.
    public static func find(_ s: [Unicode.Scalar], clauses: [TypedClause]) -> [(key: String, found: [Found])] {
        var out: [(String, [Found])] = []
        let texts = clauses.map { ScalarText(Array(s[$0.range])) }
        func inClause(_ i: Int, _ r: Range<Int>) -> Found {
            Found(value: texts[i].text(r), start: clauses[i].range.lowerBound + r.lowerBound,
                  end: clauses[i].range.lowerBound + r.upperBound, clause: i)
        }
        /// Clauses to search: typed `types` first (by score), then those matching `words`.
        func candidates(_ types: [String], _ words: Pattern?) -> [Int] {
            let typed = clauses.indices.filter { types.contains(clauses[$0].type) }.sorted { clauses[$0].score > clauses[$1].score }
            let worded = words.map { w in clauses.indices.filter { !typed.contains($0) && w.contains(texts[$0]) } } ?? []
            return typed + worded
        }
        func first(_ pattern: Pattern, group: Int, in indices: [Int]) -> Found? {
            for i in indices {
                if let m = pattern.first(in: texts[i]) {
                    let g = (group..<m.count).lazy.compactMap { m[$0] }.first ?? m[0]!
                    return inClause(i, g)
                }
            }
            return nil
        }

        // Opening: the first clauses up to 3,000 characters in.
        let opening = clauses.indices.filter { clauses[$0].range.lowerBound < 3000 }
        if let p = parties(texts, clauses, opening) { out.append(("parties", p)) }
        if let d = first(date, group: 0, in: opening) { out.append(("agreement_date", [d])) }
        if let d = first(effective, group: 1, in: clauses.indices.map { $0 }) ?? first(effectiveAfter, group: 1, in: opening) {
            out.append(("effective_date", [d]))
        }
        let termClauses = candidates(["Expiration Date"], termWords)
        if let e = first(date, group: 0, in: Array(termClauses.prefix(3))) ?? first(duration, group: 0, in: Array(termClauses.prefix(3)))
            ?? first(perpetual, group: 0, in: Array(termClauses.prefix(3))) {
            out.append(("expiration_date", [e]))
        }
        let renewal = candidates(["Renewal Term"], renewWords)
        if let r = first(renewalTerm, group: 1, in: renewal) { out.append(("renewal_term", [r])) }
        if let n = first(noticePeriod, group: 1, in: candidates(["Notice Period to Terminate Renewal", "Renewal Term"], renewWords)) {
            out.append(("notice_period", [n]))
        }
        if let g = first(governingLaw, group: 1, in: candidates(["Governing Law"], governedBy)) { out.append(("governing_law", [g])) }
        let capClauses = candidates(["Cap on Liability"], liabilityWords)
        if let c = first(money, group: 0, in: capClauses) ?? first(feesCap, group: 0, in: capClauses) {
            out.append(("liability_cap", [c]))
        }
        return out
    }

    /// "… by and between ACME Corp., a Delaware corporation (…) and Widget Inc. (…)".
    static func parties(_ texts: [ScalarText], _ clauses: [TypedClause], _ opening: [Int]) -> [Found]? {
        for i in opening {
            guard let m = between.first(in: texts[i]), let a = m[1] else { continue }
            var found = [Found(value: texts[i].text(a), start: clauses[i].range.lowerBound + a.lowerBound,
                               end: clauses[i].range.lowerBound + a.upperBound, clause: i)]
            // The second party: the first "and X" after the first party's description.
            let rest = Array(texts[i].scalars[a.upperBound...])
            let restText = ScalarText(rest)
            if let m2 = andParty.first(in: restText), let b = m2[1] {
                let off = clauses[i].range.lowerBound + a.upperBound
                found.append(Found(value: restText.text(b), start: off + b.lowerBound, end: off + b.upperBound, clause: i))
            }
            return found
        }
        return nil
    }

    /// The answers as a JSON object.
    public static func json(_ answers: [(key: String, found: [Found])]) -> String {
        "{" + answers.map { a in
            let v = a.key == "parties" ? "[" + a.found.map(\.json).joined(separator: ",") + "]" : a.found[0].json
            return "\(JSONText.quote(a.key)):\(v)"
        }.joined(separator: ",") + "}"
    }
}
