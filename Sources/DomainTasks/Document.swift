import Foundation

/// A document id as the input gave it: a JSON string or number, written back the same way.
public enum DocumentID: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case number(String)  // the literal as it appeared, so 12 stays 12 and 1e3 stays 1e3

    /// The id as a JSON value.
    public var json: String {
        switch self {
        case .string(let s): return JSONText.quote(s)
        case .number(let n): return n
        }
    }

    public var description: String {
        switch self {
        case .string(let s): return s
        case .number(let n): return n
        }
    }
}

/// One input line: `{"id": …, "text": …}` plus whatever else the line carried.
public struct Document: Sendable {
    public var id: DocumentID
    public var text: String
    /// The parsed object, for tasks that read more fields (a label, a prompt).
    public var fields: [String: any Sendable]

    public init(id: DocumentID, text: String, fields: [String: any Sendable] = [:]) {
        self.id = id
        self.text = text
        self.fields = fields
    }
}

/// Why an input line became an error record instead of a document.
public struct DocumentError: Error, Sendable, CustomStringConvertible {
    /// The line's id when it had one; otherwise the record names the line number.
    public var id: DocumentID?
    public var line: Int
    public var message: String

    public var description: String { "line \(line): \(message)" }

    /// `{"id": …, "error": …}` or `{"line": n, "error": …}`.
    public var record: String {
        let key = id.map { "\"id\":\($0.json)" } ?? "\"line\":\(line)"
        return "{\(key),\"error\":\(JSONText.quote(message))}"
    }
}

/// JSON true/false arrive as NSNumber too; their objCType is "c".
private func isBoolean(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

/// Parses JSONL input lines into documents.
public enum DocumentParser {
    /// Lines longer than this become error records rather than being parsed.
    public static let maxLineBytes = 64 << 20

    /// Parses one line (without its newline); `field` names the text field.
    public static func parse(_ line: Data, lineNumber: Int, field: String = "text") -> Result<Document, DocumentError> {
        guard line.count <= maxLineBytes else {
            return .failure(DocumentError(id: nil, line: lineNumber,
                message: "line is \(line.count) bytes, over the \(maxLineBytes >> 20) MiB limit; split the document"))
        }
        guard String(data: line, encoding: .utf8) != nil else {
            return .failure(DocumentError(id: nil, line: lineNumber, message: "line is not valid UTF-8; re-encode the input as UTF-8"))
        }
        if let document = parseFlat(line, lineNumber: lineNumber, field: field) { return .success(document) }
        let object: [String: Any]
        do {
            guard let o = try JSONSerialization.jsonObject(with: line, options: [.fragmentsAllowed]) as? [String: Any] else {
                return .failure(DocumentError(id: nil, line: lineNumber, message: "line is not a JSON object; expected {\"id\": …, \"\(field)\": \"…\"}"))
            }
            object = o
        } catch {
            return .failure(DocumentError(id: nil, line: lineNumber, message: "line is not valid JSON; expected {\"id\": …, \"\(field)\": \"…\"}"))
        }
        var id: DocumentID?
        switch object["id"] {
        case let s as String: id = .string(s)
        case let n as NSNumber where !isBoolean(n): id = .number(n.stringValue)
        case nil: id = nil
        default:
            return .failure(DocumentError(id: nil, line: lineNumber, message: "\"id\" must be a string or a number"))
        }
        guard let text = object[field] as? String else {
            let what = object[field] == nil ? "has no \"\(field)\" field" : "\"\(field)\" is not a string"
            return .failure(DocumentError(id: id, line: lineNumber, message: "line \(what)"))
        }
        var fields: [String: any Sendable] = [:]
        for (k, v) in object { if let s = v as? String { fields[k] = s } else if let n = v as? NSNumber { fields[k] = n.doubleValue } }
        return .success(Document(id: id ?? .number(String(lineNumber)), text: text, fields: fields))
    }

    /// The common line, parsed without Foundation's JSON (which costs several µs a line in
    /// NSNumber and dictionary bridging): one flat object whose values are strings without
    /// escapes or integers of up to 15 digits, with a string `field`. Anything else (escapes,
    /// fractions, nesting, booleans, duplicate keys, errors) returns nil and takes the full path,
    /// which gives the same document for every line this accepts.
    static func parseFlat(_ line: Data, lineNumber: Int, field: String) -> Document? {
        line.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> Document? in
            var scan = FlatScanner(bytes: raw.bindMemory(to: UInt8.self))
            scan.skipSpace()
            guard scan.take(0x7B) else { return nil }
            var fields: [String: any Sendable] = [:]
            var id: DocumentID?
            var text: String?
            scan.skipSpace()
            if scan.peek == 0x7D { return nil }  // {}: no text; the full path says so
            while true {
                scan.skipSpace()
                guard let key = scan.plainString() else { return nil }
                scan.skipSpace()
                guard scan.take(0x3A) else { return nil }
                scan.skipSpace()
                guard let v = scan.value(), fields[key] == nil else { return nil }
                switch v {
                case .string(let s):
                    fields[key] = s
                    if key == "id" { id = .string(s) }
                    if key == field { text = s }
                case .integer(let literal, let number):
                    fields[key] = number
                    if key == "id" { id = .number(literal) }
                    if key == field { return nil }
                }
                scan.skipSpace()
                if scan.take(0x2C) { continue }
                guard scan.take(0x7D) else { return nil }
                break
            }
            scan.skipSpace()
            guard scan.atEnd, let text else { return nil }
            return Document(id: id ?? .number(String(lineNumber)), text: text, fields: fields)
        }
    }
}

/// A cursor over one line for `parseFlat`: the index is a stored property of a struct rather than
/// a mutable local captured (and boxed) by nested functions.
private struct FlatScanner {
    let b: UnsafeBufferPointer<UInt8>
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { b = bytes }

    enum Value { case string(String), integer(String, Double) }

    var atEnd: Bool { i == b.count }
    var peek: UInt8? { i < b.count ? b[i] : nil }

    mutating func take(_ byte: UInt8) -> Bool {
        guard i < b.count, b[i] == byte else { return false }
        i += 1
        return true
    }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0D || b[i] == 0x0A { i += 1 }
    }

    /// A string with no escape or control byte; `i` is on its opening quote.
    mutating func plainString() -> String? {
        guard i < b.count, b[i] == 0x22 else { return nil }
        let start = i + 1
        var j = start
        while j < b.count, b[j] != 0x22 {
            if b[j] == 0x5C || b[j] < 0x20 { return nil }
            j += 1
        }
        guard j < b.count else { return nil }
        i = j + 1
        return String(decoding: UnsafeBufferPointer(rebasing: b[start..<j]), as: UTF8.self)
    }

    /// A plain string or an integer of up to 15 digits (as JSON writes them).
    mutating func value() -> Value? {
        guard i < b.count else { return nil }
        if b[i] == 0x22 { return plainString().map(Value.string) }
        let start = i
        if b[i] == 0x2D { i += 1 }
        let digitsStart = i
        while i < b.count, b[i] >= 0x30, b[i] <= 0x39 { i += 1 }
        let digits = i - digitsStart
        guard digits >= 1, digits <= 15, !(digits > 1 && b[digitsStart] == 0x30),
              !(b[start] == 0x2D && digits == 1 && b[digitsStart] == 0x30) else { return nil }
        // A fraction or exponent goes to the full path.
        if i < b.count, b[i] == 0x2E || b[i] == 0x65 || b[i] == 0x45 { return nil }
        let literal = String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
        guard let number = Double(literal) else { return nil }
        return .integer(literal, number)
    }
}
