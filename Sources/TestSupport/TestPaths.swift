import Foundation

/// Where the tests find the real models, the shared references and the built binary.
public enum TestPaths {
    /// The model cache that `ops/setup` fills (`$DOJO_HOME/models`).
    public static var modelsDirectory: URL {
        let home = ProcessInfo.processInfo.environment["DOJO_HOME"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/dojo").path
        return URL(fileURLWithPath: home).appendingPathComponent("models")
    }

    /// The MiniLM encoder directory.
    public static var minilm: URL { modelsDirectory.appendingPathComponent("minilm") }

    /// The SmolLM2 GGUF file.
    public static var smollm2: URL {
        modelsDirectory.appendingPathComponent("smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    /// `../shared` beside the checkout, or `$DOJO_SHARED`.
    public static var shared: URL {
        if let s = ProcessInfo.processInfo.environment["DOJO_SHARED"] { return URL(fileURLWithPath: s) }
        return packageRoot.deletingLastPathComponent().appendingPathComponent("shared")
    }

    /// `../shared/reference`.
    public static var reference: URL { shared.appendingPathComponent("reference") }

    /// The package root, found from this source file's location.
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The `dojo` binary: `$DOJO_BIN`, else the release build, else the debug build.
    public static var dojoBinary: URL {
        if let b = ProcessInfo.processInfo.environment["DOJO_BIN"] { return URL(fileURLWithPath: b) }
        let release = packageRoot.appendingPathComponent(".build/release/dojo")
        if FileManager.default.isExecutableFile(atPath: release.path) { return release }
        return packageRoot.appendingPathComponent(".build/debug/dojo")
    }
}
