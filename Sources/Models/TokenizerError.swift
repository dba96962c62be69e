/// A tokenizer.json that cannot be used.
public struct TokenizerError: Error, CustomStringConvertible, Sendable {
    /// The file's path.
    public let path: String
    /// What is wrong and what to do.
    public let message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}
