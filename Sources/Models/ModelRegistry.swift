import Foundation

/// Resolves a model argument: a path always works; `minilm` and `smollm2` name the models `ops/setup` caches.
public enum ModelRegistry {
    /// Short names and where `ops/setup` unpacks them under `$DOJO_HOME/models`.
    public static let known: [String: String] = [
        "minilm": "minilm",
        "smollm2": "smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    ]

    /// `$DOJO_HOME/models`, by default `~/.cache/dojo/models`.
    public static var cacheDirectory: URL {
        let env = ProcessInfo.processInfo.environment
        let home = env["DOJO_HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/dojo").path
        return URL(fileURLWithPath: home).appendingPathComponent("models")
    }

    /// The file or directory `name` refers to; throws naming where it looked.
    public static func resolve(_ name: String) throws -> URL {
        let fm = FileManager.default
        if fm.fileExists(atPath: name) { return URL(fileURLWithPath: name) }
        let cached = cacheDirectory.appendingPathComponent(known[name] ?? name)
        if fm.fileExists(atPath: cached.path) { return cached }
        throw ModelError.unknownModel(name, searched: [URL(fileURLWithPath: name).path, cached.path])
    }
}
