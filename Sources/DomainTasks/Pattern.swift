import Foundation

/// A compiled regular expression (ICU syntax) whose matches come back as Unicode scalar offsets.
struct Pattern: @unchecked Sendable {
    let regex: NSRegularExpression

    init(_ pattern: String, caseInsensitive: Bool = true) {
        // The patterns are constants of this module; a bad one is a programmer mistake.
        regex = try! NSRegularExpression(pattern: pattern, options: caseInsensitive ? [.caseInsensitive] : [])
    }

    /// Matches in `text`: for each, the capture groups' scalar ranges (index 0 the whole match; nil when a group did not take part).
    func matches(in text: ScalarText) -> [[Range<Int>?]] {
        regex.matches(in: text.string, range: NSRange(location: 0, length: text.utf16Count)).map { m in
            (0..<m.numberOfRanges).map { g in
                let r = m.range(at: g)
                guard r.location != NSNotFound else { return nil }
                return text.scalarOffset(r.location)..<text.scalarOffset(r.location + r.length)
            }
        }
    }

    func first(in text: ScalarText) -> [Range<Int>?]? {
        guard let m = regex.firstMatch(in: text.string, range: NSRange(location: 0, length: text.utf16Count)) else { return nil }
        return (0..<m.numberOfRanges).map { g in
            let r = m.range(at: g)
            guard r.location != NSNotFound else { return nil }
            return text.scalarOffset(r.location)..<text.scalarOffset(r.location + r.length)
        }
    }

    func contains(_ text: ScalarText) -> Bool {
        regex.firstMatch(in: text.string, range: NSRange(location: 0, length: text.utf16Count)) != nil
    }
}

/// A string with its Unicode scalars and a UTF-16 → scalar offset map (identity when no scalar needs two UTF-16 units).
struct ScalarText {
    let string: String
    let scalars: [Unicode.Scalar]
    let utf16Count: Int
    private let map: [Int32]?  // utf16 offset → scalar offset; nil for identity

    init(_ string: String) {
        self.string = string
        scalars = Array(string.unicodeScalars)
        utf16Count = string.utf16.count
        if utf16Count == scalars.count {
            map = nil
        } else {
            var m = [Int32](repeating: 0, count: utf16Count + 1)
            var u = 0
            for (k, c) in scalars.enumerated() {
                m[u] = Int32(k)
                if c.value > 0xFFFF { m[u + 1] = Int32(k); u += 2 } else { u += 1 }
            }
            m[u] = Int32(scalars.count)
            map = m
        }
    }

    init(_ scalars: [Unicode.Scalar]) {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        self.init(String(v))
    }

    func scalarOffset(_ utf16: Int) -> Int { map.map { Int($0[utf16]) } ?? utf16 }

    func text(_ r: Range<Int>) -> String { TextScan.string(scalars, r) }
}

/// A value found in the text, with its scalar offsets into the document.
public struct Found: Sendable, Equatable {
    public var value: String
    public var start: Int
    public var end: Int
    /// The clause (index into the record's `clauses`) it was found in, if any.
    public var clause: Int?

    public init(value: String, start: Int, end: Int, clause: Int? = nil) {
        self.value = value; self.start = start; self.end = end; self.clause = clause
    }

    var json: String {
        "{\"value\":\(JSONText.quote(value)),\"start\":\(start),\"end\":\(end)" + (clause.map { ",\"clause\":\($0)" } ?? "") + "}"
    }
}
