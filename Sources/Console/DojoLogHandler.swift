// The one log handler of every dojo process: one line per event on stderr, as text for people or
// as JSON for log collectors. Each line is written with a single write(2), so lines from the
// threads of one process never interleave.
import Foundation
import Logging

/// How log lines look.
public enum LogFormat: String, CaseIterable, Sendable {
    /// `2026-11-23T14:00:00.123Z info dojo.coordinator: job submitted docs=1000 job=j000001`
    case text
    /// `{"ts":"…","level":"info","label":"dojo.coordinator","message":"…","metadata":{"job":"j000001"}}`
    case json
}

/// A swift-log handler writing `LogFormat` lines to a file descriptor (stderr by default).
public struct DojoLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String
    public let format: LogFormat
    let fd: Int32

    public init(label: String, level: Logger.Level, format: LogFormat, fd: Int32 = 2,
                metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label; self.logLevel = level; self.format = format; self.fd = fd
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        if let error = event.error { all["error"] = "\(error)" }
        var text = Self.line(format: format, timestampMs: Self.nowMs(), level: event.level, label: label,
                             message: event.message.description, metadata: all)
        text.append("\n")
        text.utf8CString.withUnsafeBufferPointer { buffer in
            // Without the terminating NUL; a short write (pipe full) goes on from where it stopped.
            var offset = 0, remaining = buffer.count - 1
            while remaining > 0 {
                let n = write(fd, buffer.baseAddress! + offset, remaining)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
                offset += n; remaining -= n
            }
        }
    }

    /// One line, without its newline: metadata keys sorted, so the same event reads the same every time.
    public static func line(format: LogFormat, timestampMs: Int64, level: Logger.Level, label: String,
                            message: String, metadata: Logger.Metadata) -> String {
        let ts = timestamp(ms: timestampMs)
        let keys = metadata.keys.sorted()
        switch format {
        case .text:
            var s = "\(ts) \(level.rawValue) \(label): \(message)"
            for key in keys { s += " \(key)=\(textValue(metadata[key]!))" }
            return s
        case .json:
            var s = "{\"ts\":\"\(ts)\",\"level\":\"\(level.rawValue)\",\"label\":\(quote(label)),\"message\":\(quote(message)),\"metadata\":{"
            s += keys.map { "\(quote($0)):\(jsonValue(metadata[$0]!))" }.joined(separator: ",")
            return s + "}}"
        }
    }

    /// `2026-11-23T14:00:00.123Z` for milliseconds since 1970.
    public static func timestamp(ms: Int64) -> String {
        var seconds = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000)
        let millis = Int(ms - Int64(seconds) * 1000)
        var t = tm()
        gmtime_r(&seconds, &t)
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))T"
            + "\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }

    static func nowMs() -> Int64 {
        var tv = timeval()
        gettimeofday(&tv, nil)
        return Int64(tv.tv_sec) * 1000 + Int64(tv.tv_usec) / 1000
    }

    /// A text value as it is, or quoted when it holds a space, a quote, an `=` or a control
    /// character, so `key=value` pairs split unambiguously.
    static func textValue(_ value: Logger.MetadataValue) -> String {
        let s: String
        switch value {
        case .string(let v): s = v
        case .stringConvertible(let v): s = v.description
        case .array, .dictionary: return quote(value.description)
        }
        if s.isEmpty || s.unicodeScalars.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.value < 0x20 }) {
            return quote(s)
        }
        return s
    }

    static func jsonValue(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let v): return quote(v)
        case .stringConvertible(let v): return quote(v.description)
        case .array(let items): return "[" + items.map(jsonValue).joined(separator: ",") + "]"
        case .dictionary(let d): return "{" + d.keys.sorted().map { "\(quote($0)):\(jsonValue(d[$0]!))" }.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
