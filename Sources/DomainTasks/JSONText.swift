/// Small, fast JSON writing for result records (JSONSerialization is slow for float arrays).
public enum JSONText {
    /// A JSON string literal for `s`.
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// A JSON array of floats in their shortest round-trip form.
    public static func floats<C: Collection>(_ values: C) -> String where C.Element == Float {
        var out = "["
        out.reserveCapacity(values.count * 12)
        var first = true
        for v in values {
            if !first { out += "," }
            first = false
            out += v.isFinite ? v.description : "null"
        }
        out += "]"
        return out
    }

    /// A JSON array of integers.
    public static func ints<C: Collection>(_ values: C) -> String where C.Element: BinaryInteger {
        "[" + values.map { String($0) }.joined(separator: ",") + "]"
    }
}
