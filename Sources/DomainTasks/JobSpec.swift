import Foundation
import Yams

/// A value in a job spec's `params`: what YAML scalars, lists and maps decode to.
public enum SpecValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case string(String), number(Double), bool(Bool), list([SpecValue]), map([String: SpecValue]), null

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let l = try? c.decode([SpecValue].self) { self = .list(l) }
        else { self = .map(try c.decode([String: SpecValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .number(let n): try c.encode(n)
        case .bool(let b): try c.encode(b)
        case .list(let l): try c.encode(l)
        case .map(let m): try c.encode(m)
        case .null: try c.encodeNil()
        }
    }

    public var description: String {
        switch self {
        case .string(let s): return s
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int(n)) : String(n)
        case .bool(let b): return String(b)
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .map(let m): return "{" + m.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}"
        case .null: return "null"
        }
    }
}

/// A batch job: which task runs with which model (and adapter), its parameters, and how it is sharded.
public struct JobSpec: Codable, Sendable, Equatable {
    public var task: String
    public var model: String?
    public var adapter: String?
    public var params: [String: SpecValue]
    /// Documents per shard (default 256).
    public var shardSize: Int
    /// Approximate tokens per shard (text bytes / 4), so long documents do not make long-tail shards (default 131072).
    public var shardTokens: Int
    /// Attempts that crash or time out before a shard is split to isolate the document that fails (default 3).
    public var retries: Int
    /// Higher runs first (default 0).
    public var priority: Int
    public var name: String?

    enum CodingKeys: String, CodingKey {
        case task, model, adapter, params, name, priority, retries
        case shardSize = "shard_size", shardTokens = "shard_tokens"
    }

    public init(task: String, model: String? = nil, adapter: String? = nil, params: [String: SpecValue] = [:],
                shardSize: Int = 256, shardTokens: Int = 131_072, retries: Int = 3, priority: Int = 0, name: String? = nil) {
        self.task = task; self.model = model; self.adapter = adapter; self.params = params
        self.shardSize = shardSize; self.shardTokens = shardTokens; self.retries = retries
        self.priority = priority; self.name = name
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        task = try c.decode(String.self, forKey: .task)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        adapter = try c.decodeIfPresent(String.self, forKey: .adapter)
        params = try c.decodeIfPresent([String: SpecValue].self, forKey: .params) ?? [:]
        shardSize = try c.decodeIfPresent(Int.self, forKey: .shardSize) ?? 256
        shardTokens = try c.decodeIfPresent(Int.self, forKey: .shardTokens) ?? 131_072
        retries = try c.decodeIfPresent(Int.self, forKey: .retries) ?? 3
        priority = try c.decodeIfPresent(Int.self, forKey: .priority) ?? 0
        name = try c.decodeIfPresent(String.self, forKey: .name)
    }

    /// Parses a YAML job spec; errors name the file and the field.
    public static func parse(yaml: String, source: String) throws -> JobSpec {
        let spec: JobSpec
        do {
            spec = try YAMLDecoder().decode(JobSpec.self, from: yaml)
        } catch let DecodingError.keyNotFound(key, _) {
            throw SpecError(source, "missing required field '\(key.stringValue)'")
        } catch let DecodingError.typeMismatch(type, ctx) {
            throw SpecError(source, "field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))' should be \(type)")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw SpecError(source, "field '\(ctx.codingPath.map(\.stringValue).joined(separator: "."))': \(ctx.debugDescription)")
        } catch {
            throw SpecError(source, "not a valid YAML job spec (\(error))")
        }
        try spec.validate(source)
        return spec
    }

    /// Reads and parses a spec file.
    public static func load(_ url: URL) throws -> JobSpec {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw SpecError(url.path, "cannot read the job spec; check the path")
        }
        return try parse(yaml: text, source: url.path)
    }

    func validate(_ source: String) throws {
        guard shardSize >= 1 && shardSize <= 1_000_000 else { throw SpecError(source, "shard_size must be in 1...1000000, not \(shardSize)") }
        guard shardTokens >= 1 else { throw SpecError(source, "shard_tokens must be at least 1, not \(shardTokens)") }
        guard retries >= 1 && retries <= 100 else { throw SpecError(source, "retries must be in 1...100, not \(retries)") }
    }

    /// The spec as compact JSON, the form that travels to the coordinator and workers.
    public func jsonData() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(self)) ?? Data()
    }

    /// Decodes the JSON form.
    public static func fromJSON(_ data: Data) throws -> JobSpec {
        do { return try JSONDecoder().decode(JobSpec.self, from: data) } catch {
            throw SpecError("job spec", "malformed spec JSON (\(error))")
        }
    }

    /// An integer parameter with a default.
    public func int(_ key: String, default value: Int) -> Int {
        if case .number(let n)? = params[key] { return Int(n) }
        return value
    }

    /// A string parameter, if set.
    public func string(_ key: String) -> String? {
        if case .string(let s)? = params[key] { return s }
        return nil
    }
}

/// A job spec that cannot be used, naming where and why.
public struct SpecError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ source: String, _ message: String) { description = "\(source): \(message)" }
}
