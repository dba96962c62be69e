import Foundation

/// A risky clause: which flag, which clause (index into the record's `clauses`), and why.
public struct RiskFlag: Sendable, Equatable {
    public var type: String
    public var clause: Int
    public var reason: String

    var json: String { "{\"type\":\(JSONText.quote(type)),\"clause\":\(clause),\"reason\":\(JSONText.quote(reason))}" }
}

/// Risk flags over typed clauses. A flag needs the clause's words (a pattern per flag); the reason
/// quotes them and adds the clause's type when the classifier agrees. One flag per type and clause.
///
/// Flags (all by default; `params.flags` picks some): `uncapped_liability`,
/// `termination_for_convenience` (by the other party: with `params.party` set, only clauses that
/// let someone other than that party terminate), `auto_renewal`, `non_compete`, `exclusivity`,
/// `ip_assignment`, `most_favored_nation`, `change_of_control`, `unlimited_audit_rights` (an audit
/// or inspection right with no limit on how often).
public struct RiskFlags: Sendable {
    public static let all = ["uncapped_liability", "termination_for_convenience", "auto_renewal", "non_compete", "exclusivity",
                             "ip_assignment", "most_favored_nation", "change_of_control", "unlimited_audit_rights"]

    struct Rule {
        let pattern: Pattern
        let unless: Pattern?
        let type: String      // the CUAD category that agrees
        let what: String      // reason text
    }

    static let rules: [String: Rule] = [
        "uncapped_liability": Rule(
            pattern: Pattern("unlimited\\s+liability|liability[^.;]{0,40}(?:shall|will)\\s+(?:be\\s+)?unlimited|shall\\s+not\\s+(?:be\\s+)?(?:subject\\s+to|limited\\s+by)\\s+(?:any|the)\\s+(?:limitation|cap|limit)|(?:limitations?|caps?|exclusions?)\\s+(?:of|on)\\s+(?:liability|damages)[^.;]{0,100}(?:shall|will)\\s+not\\s+apply|foregoing\\s+limitations?[^.;]{0,80}(?:shall|will)\\s+not\\s+apply|no\\s+limit(?:ation)?\\s+(?:on|of)\\s+(?:its\\s+|the\\s+)?liability|without\\s+limitation\\s+as\\s+to\\s+amount"),
            unless: nil, type: "Uncapped Liability", what: "liability is not capped"),
        "termination_for_convenience": Rule(
            pattern: Pattern("terminat\\w*\\s+(?:this\\s+)?(?:agreement|contract)?[^.;]{0,80}?(?:for\\s+(?:any\\s+reason|any\\s+or\\s+no\\s+reason|no\\s+reason|convenience)|without\\s+(?:cause|reason)|at\\s+(?:its|any)\\s+(?:sole\\s+)?(?:discretion|time)\\s+(?:upon|by|with|on)\\s+[^.;]{0,30}notice)|(?:for\\s+convenience|without\\s+cause)[^.;]{0,60}terminat"),
            unless: nil, type: "Termination for Convenience", what: "can be terminated without cause"),
        "auto_renewal": Rule(
            pattern: Pattern("automatic(?:ally)?\\s+(?:be\\s+)?(?:renew|extend|continue)|(?:renew|extend)(?:ed|s)?\\s+automatically|auto-?renew|(?:successive|additional)\\s+[^.;]{0,40}(?:periods?|terms?)\\s+unless"),
            unless: nil, type: "Renewal Term", what: "renews automatically"),
        "non_compete": Rule(
            pattern: Pattern("non-?compet|covenant\\s+not\\s+to\\s+compete|(?:shall|will|agrees?)\\s+not[^.;]{0,80}(?:compete|competing|competitive\\s+(?:product|business|service))|not\\s+(?:directly\\s+or\\s+indirectly\\s+)?engage\\s+in[^.;]{0,60}compet"),
            unless: nil, type: "Non-Compete", what: "restricts competition"),
        "exclusivity": Rule(
            pattern: Pattern("(?<!non-)(?<!non)\\bexclusive\\s+(?:right|license|licence|distributor|distribution|supplier|supply|provider|basis|dealing|reseller|agent|agency|partner|arrangement|relationship|territory)|\\bexclusively\\s+(?:from|to|through|with)|sole\\s+and\\s+exclusive\\s+(?:supplier|distributor|provider|reseller)"),
            unless: nil, type: "Exclusivity", what: "creates exclusivity"),
        "ip_assignment": Rule(
            pattern: Pattern("hereby\\s+(?:irrevocably\\s+)?(?:assigns?|transfers?\\s+and\\s+assigns?)[^.;]{0,80}(?:right|title|interest|intellectual|invention|work)|(?:shall|will|agrees?\\s+to)\\s+(?:promptly\\s+)?assign\\s+[^.;]{0,80}(?:right,?\\s+title|intellectual\\s+property|inventions?)|works?\\s+made\\s+for\\s+hire"),
            unless: nil, type: "IP Ownership Assignment", what: "assigns intellectual property"),
        "most_favored_nation": Rule(
            pattern: Pattern("most\\s+favou?red\\s+(?:nation|customer|pricing|licensee)|(?:terms|prices?|pricing|rates?|royalt\\w+)[^.;]{0,80}(?:no\\s+less\\s+favou?rable|at\\s+least\\s+as\\s+favou?rable)|no\\s+less\\s+favou?rable\\s+than\\s+(?:those|the\\s+terms|the\\s+prices?)"),
            unless: nil, type: "Most Favored Nation", what: "has a most-favoured-nation term"),
        "change_of_control": Rule(
            pattern: Pattern("change\\s+(?:of|in)\\s+(?:the\\s+)?control|(?:sale|transfer)\\s+of\\s+(?:all\\s+or\\s+)?substantially\\s+all\\s+(?:of\\s+)?(?:its|the|their)\\s+(?:assets|business)|(?:merger|consolidation)[^.;]{0,60}(?:terminat|consent)"),
            unless: nil, type: "Change of Control", what: "reacts to a change of control"),
        "unlimited_audit_rights": Rule(
            pattern: Pattern("\\baudit(?:s|ed|ing)?\\b|inspect[^.;]{0,40}(?:books|records|facilities|premises)|examine[^.;]{0,40}(?:books|records)"),
            unless: Pattern("(?:once|one\\s+time|twice|two\\s+times)\\s+(?:per|in\\s+any|in\\s+each|a|during\\s+any|every|each)\\b|no\\s+more\\s+(?:often|frequently)\\s+than|not\\s+more\\s+(?:often|frequently)\\s+than|not\\s+more\\s+than\\s+(?:once|one|twice)|limited\\s+to\\s+(?:one|once)|per\\s+(?:calendar\\s+)?year|annual(?:ly)?\\s+audit"),
            type: "Audit Rights", what: "audit right with no limit on how often"),
    ]

    /// Who may terminate: "Licensee may terminate", "either party may terminate".
    static let terminator = Pattern("((?:either|each|any)\\s+party|[A-Z][A-Za-z]+(?:\\s+[A-Z][A-Za-z]+)?)\\s+(?:may|shall\\s+have\\s+the\\s+right\\s+to|has\\s+the\\s+right\\s+to|can|is\\s+entitled\\s+to)\\s+(?:at\\s+any\\s+time\\s+|immediately\\s+)?terminat", caseInsensitive: false)

    public let enabled: [String]
    /// The reviewing party: termination for convenience is flagged only when someone else holds the right.
    public let party: String?

    public init(enabled: [String] = RiskFlags.all, party: String? = nil) {
        self.enabled = enabled
        self.party = party
    }

    /// Checks `params.flags`.
    public static func validate(_ names: [String], source: String) throws {
        for n in names where rules[n] == nil {
            throw SpecError(source, "params.flags: unknown flag '\(n)'; known flags: \(all.joined(separator: ", "))")
        }
    }

    /// Flags over the clauses of `s` (the contract's scalars), in clause order.
    public func flags(_ s: [Unicode.Scalar], clauses: [TypedClause]) -> [RiskFlag] {
        var out: [RiskFlag] = []
        for (i, clause) in clauses.enumerated() {
            let text = ScalarText(Array(s[clause.range]))
            for name in enabled {
                guard let rule = Self.rules[name], let m = rule.pattern.first(in: text), let hit = m[0] else { continue }
                if let unless = rule.unless, unless.contains(text) { continue }
                var who = ""
                if name == "termination_for_convenience" {
                    if let t = Self.terminator.first(in: text), let r = t[1] {
                        let subject = text.text(r)
                        if let party, subject.lowercased() == party.lowercased() { continue }
                        who = "\(subject) "
                    }
                }
                var phrase = text.text(hit)
                if phrase.count > 80 { phrase = String(phrase.prefix(77)) + "..." }
                var reason = who.isEmpty ? "\(rule.what): \"\(phrase)\"" : "\(who)can terminate without cause: \"\(phrase)\""
                if clause.type == rule.type { reason += "; typed \(rule.type) (\(Score.format(clause.score)))" }
                out.append(RiskFlag(type: name, clause: i, reason: reason))
            }
        }
        return out
    }
}
