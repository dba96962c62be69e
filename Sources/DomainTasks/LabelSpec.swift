import Foundation

/// A label as a job spec describes it: a name, an optional description, optional own prompts.
public struct LabelSpec: Sendable, Equatable {
    public var name: String
    public var description: String
    /// A typical text of this label, for the `{example}` template (empty when none).
    public var example: String
    /// Prompts for this label only; empty means the spec's templates.
    public var prompts: [String]

    public init(name: String, description: String = "", example: String = "", prompts: [String] = []) {
        self.name = name; self.description = description; self.example = example; self.prompts = prompts
    }

    /// Reads `params.labels`: a list whose items are `"NAME: DESCRIPTION"` (or just `"NAME"`), or maps
    /// `{name, description, prompts}`. A plain map `{NAME: DESCRIPTION}` works too.
    public static func parse(_ value: SpecValue?, source: String) throws -> [LabelSpec]? {
        guard let value else { return nil }
        var labels: [LabelSpec] = []
        switch value {
        case .list(let items):
            for (i, item) in items.enumerated() {
                switch item {
                case .string(let s):
                    if let colon = s.range(of: ": ") {
                        labels.append(LabelSpec(name: String(s[..<colon.lowerBound]).trimmingCharacters(in: .whitespaces),
                                                description: String(s[colon.upperBound...]).trimmingCharacters(in: .whitespaces)))
                    } else {
                        labels.append(LabelSpec(name: s.trimmingCharacters(in: .whitespaces)))
                    }
                case .map(let m):
                    guard case .string(let name)? = m["name"] ?? m["label"] else {
                        throw SpecError(source, "params.labels[\(i)] needs a 'name'")
                    }
                    var prompts: [String] = []
                    if case .list(let p)? = m["prompts"] { prompts = p.map(\.description) }
                    labels.append(LabelSpec(name: name, description: m["description"]?.description ?? "",
                                            example: m["example"]?.description ?? "", prompts: prompts))
                default:
                    throw SpecError(source, "params.labels[\(i)] should be \"NAME: DESCRIPTION\" or {name, description}")
                }
            }
        case .map(let m):
            for (k, v) in m.sorted(by: { $0.key < $1.key }) { labels.append(LabelSpec(name: k, description: v.description)) }
        default:
            throw SpecError(source, "params.labels should be a list of \"NAME: DESCRIPTION\" strings")
        }
        guard !labels.isEmpty else { throw SpecError(source, "params.labels is empty") }
        var seen = Set<String>()
        for l in labels {
            guard !l.name.isEmpty else { throw SpecError(source, "params.labels has an empty name") }
            guard seen.insert(l.name).inserted else { throw SpecError(source, "params.labels names '\(l.name)' twice") }
        }
        return labels
    }

    /// This label's prompts from `templates` (`{label}`, `{description}`, `{example}`, `{label_lower}` are
    /// filled in; a template that needs an example the label lacks is skipped).
    public func prompts(templates: [String]) -> [String] {
        if !prompts.isEmpty { return prompts }
        let usable = templates.filter { !$0.contains("{example}") || !example.isEmpty }
        return (usable.isEmpty ? ["{label}: {description}"] : usable).map { t in
            var s = t.replacingOccurrences(of: "{label}", with: name)
                .replacingOccurrences(of: "{label_lower}", with: name.lowercased())
                .replacingOccurrences(of: "{description}", with: description)
                .replacingOccurrences(of: "{example}", with: example)
            if description.isEmpty, s.hasSuffix(": ") { s.removeLast(2) }
            return s.trimmingCharacters(in: .whitespaces)
        }
    }
}
