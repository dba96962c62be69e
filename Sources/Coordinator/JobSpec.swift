// The few fields of a job spec the coordinator reads. The rest of the spec is the task's business:
// it travels to workers as the opaque bytes it came in.
import Foundation

/// A job spec field the coordinator could not accept.
public struct JobSpecError: Error, Equatable, CustomStringConvertible {
    public var field: String
    public var problem: String
    public init(field: String, problem: String) { self.field = field; self.problem = problem }
    public var description: String { "job spec: `\(field)` \(problem)" }
}

/// The coordinator's view of a job spec (JSON): task, name, sharding, retries, priority.
public struct JobSpec: Equatable, Sendable {
    public static let defaultShardSize = 256
    public static let defaultShardTokens = 131_072

    public var task: String
    public var name: String?
    /// Documents per shard at most.
    public var shardSize: Int
    /// Approximate tokens per shard at most (a document counts its line bytes / 4).
    public var shardTokens: Int
    /// Crashes before a shard is split, and before a single document is quarantined.
    public var retries: Int
    /// Higher runs first; equal priorities run in submission order.
    public var priority: Int

    public init(task: String, name: String? = nil, shardSize: Int = JobSpec.defaultShardSize,
                shardTokens: Int = JobSpec.defaultShardTokens, retries: Int = 3, priority: Int = 0) {
        self.task = task; self.name = name; self.shardSize = shardSize; self.shardTokens = shardTokens
        self.retries = retries; self.priority = priority
    }

    /// Parses the spec's JSON bytes; `defaultRetries` applies when the spec names no `retries`.
    public init(json: Data, defaultRetries: Int = 3) throws {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: json) } catch {
            throw JobSpecError(field: "(spec)", problem: "is not valid JSON")
        }
        guard let spec = object as? [String: Any] else {
            throw JobSpecError(field: "(spec)", problem: "must be a JSON object")
        }
        guard let task = spec["task"] as? String, !task.isEmpty else {
            throw JobSpecError(field: "task", problem: "is missing or not a non-empty string")
        }
        self.task = task
        if let name = spec["name"] {
            guard let s = name as? String else { throw JobSpecError(field: "name", problem: "must be a string") }
            self.name = s
        } else { self.name = nil }
        shardSize = try Self.int(spec, "shard_size", default: Self.defaultShardSize, min: 1)
        shardTokens = try Self.int(spec, "shard_tokens", default: Self.defaultShardTokens, min: 1)
        retries = try Self.int(spec, "retries", default: defaultRetries, min: 1)
        priority = try Self.int(spec, "priority", default: 0, min: Int.min)
    }

    private static func int(_ spec: [String: Any], _ key: String, default value: Int, min: Int) throws -> Int {
        guard let raw = spec[key] else { return value }
        // JSON booleans arrive as NSNumber too (objCType "c"); they are not integers here.
        guard let number = raw as? NSNumber, String(cString: number.objCType) != "c", let n = raw as? Int else {
            throw JobSpecError(field: key, problem: "must be an integer")
        }
        guard n >= min else { throw JobSpecError(field: key, problem: "must be at least \(min)") }
        return n
    }
}
