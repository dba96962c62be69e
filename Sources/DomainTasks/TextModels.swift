import Foundation

/// A text's embedding as tasks see it: L2-normalised, with how it was made.
public struct EmbeddedText: Sendable, Equatable {
    /// Unit length (cosine similarity is a dot product).
    public var vector: [Float]
    /// The text was longer than the model's context: it was split into overlapping windows whose
    /// pooled vectors were averaged.
    public var cut: Bool
    /// The text was longer than the task's window budget and its tail was not read (the record says so).
    public var truncated: Bool
    /// Model tokens spent.
    public var tokens: Int

    public init(vector: [Float], cut: Bool = false, truncated: Bool = false, tokens: Int = 0) {
        self.vector = vector; self.cut = cut; self.truncated = truncated; self.tokens = tokens
    }
}

/// Turns texts into unit vectors; the real one runs the encoder, tests use stubs.
public protocol TextEmbedder: AnyObject {
    func embed(_ texts: [String]) -> [EmbeddedText]
}

/// One text's class probabilities, in the order of the classifier's `labels`.
public struct Classification: Sendable, Equatable {
    public var probabilities: [Float]
    /// Cosine similarity to each label's prototype (zero-shot only; empty for a trained head).
    public var similarities: [Float]
    public var cut: Bool
    public var truncated: Bool
    public var tokens: Int

    public init(probabilities: [Float], similarities: [Float] = [], cut: Bool = false, truncated: Bool = false, tokens: Int = 0) {
        self.probabilities = probabilities; self.similarities = similarities
        self.cut = cut; self.truncated = truncated; self.tokens = tokens
    }

    /// The best label's index (the first on ties).
    public var best: Int {
        var b = 0
        for i in probabilities.indices where probabilities[i] > probabilities[b] { b = i }
        return b
    }

    /// The `k` best label indices, best first.
    public func top(_ k: Int) -> [Int] {
        Array(probabilities.indices.sorted { probabilities[$0] > probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 < $1) }.prefix(k))
    }
}

/// Scores texts against a fixed label set.
public protocol TextClassifier: AnyObject {
    var labels: [String] { get }
    func classify(_ texts: [String]) -> [Classification]
}

/// Small vector helpers shared by the classifiers.
enum VectorMath {
    static func normalize(_ v: inout [Float]) {
        var sum: Float = 0
        for x in v { sum += x * x }
        let inv = 1 / max(sum.squareRoot(), 1e-12)
        for i in v.indices { v[i] *= inv }
    }

    static func dot(_ a: [Float], _ b: [Float]) -> Float {
        var s: Float = 0
        for i in 0..<min(a.count, b.count) { s += a[i] * b[i] }
        return s
    }

    /// Softmax of `logits / temperature`.
    static func softmax(_ logits: [Float], temperature: Float = 1) -> [Float] {
        guard let m = logits.max() else { return [] }
        let t = max(temperature, 1e-6)
        var e = logits.map { Float(exp(Double(($0 - m) / t))) }
        let s = e.reduce(0, +)
        for i in e.indices { e[i] /= s }
        return e
    }
}

/// One document's completion as tasks see it.
public struct Completion: Sendable, Equatable {
    public var text: String
    /// "stop" (end of generation or a stop string) or "length" (max tokens or the context is full).
    public var finish: String
    public var promptTokens: Int
    public var generatedTokens: Int
    /// The document was cut from its end so that the prompt and the answer fit the context.
    public var truncated: Bool

    public init(text: String, finish: String, promptTokens: Int, generatedTokens: Int, truncated: Bool = false) {
        self.text = text; self.finish = finish; self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens; self.truncated = truncated
    }
}

/// How a document becomes a prompt: `{text}` in the template is the document (`{id}` its id); with
/// `chat` the result is the user turn of the model's chat template, after `system` if given.
public struct PromptTemplate: Sendable, Equatable {
    public var template: String
    public var system: String?
    public var chat: Bool

    public init(template: String = "{text}", system: String? = nil, chat: Bool = false) {
        self.template = template; self.system = system; self.chat = chat
    }

    /// The template with its placeholders filled.
    public func fill(text: String, id: String) -> String {
        template.replacingOccurrences(of: "{id}", with: id).replacingOccurrences(of: "{text}", with: text)
    }
}

/// Completes documents through a prompt template; the real one runs the decoder, tests use stubs.
public protocol TextGenerator: AnyObject {
    /// One result per document, in order; a failure says why that document has no completion.
    func complete(_ documents: [Document], prompt: PromptTemplate) -> [Result<Completion, TaskFailure>]
}

/// Why one document could not be processed (its record says this).
public struct TaskFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
