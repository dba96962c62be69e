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
}
