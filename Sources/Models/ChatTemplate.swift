// Chat templates, recognised from `tokenizer.chat_template` as llama.cpp's `llm_chat_detect_template`
// does (by marker tokens, not by running Jinja), rendered as `llm_chat_apply_template` renders them
// with add_generation_prompt = true.
import Foundation

/// One chat turn.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// A chat format Dojo knows how to render.
public enum ChatTemplate: Sendable, Equatable {
    /// `<|im_start|>role\ncontent<|im_end|>\n` … `<|im_start|>assistant\n` (SmolLM2, Qwen2). Some
    /// templates insert a default system turn when the conversation has none.
    case chatML(defaultSystem: String?)
    /// `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` … (Llama 3); BOS comes from the tokenizer.
    case llama3

    /// Recognises the template text from a model's metadata; nil when there is none or it is unknown.
    public init?(templateText text: String) {
        if text.contains("<|im_start|>") {
            self = .chatML(defaultSystem: Self.defaultSystem(in: text))
        } else if text.contains("<|start_header_id|>") && text.contains("<|eot_id|>") {
            self = .llama3
        } else {
            return nil
        }
    }

    /// The template of `file` (`tokenizer.chat_template`); throws naming the model when it has none
    /// or one Dojo does not know.
    public init(gguf file: GGUFFile) throws {
        guard case .string(let text)? = file.value("tokenizer.chat_template") else {
            throw ModelError.invalidInput("\(file.path): the model has no tokenizer.chat_template, so --chat cannot format messages; send plain prompts without --chat")
        }
        guard let t = ChatTemplate(templateText: text) else {
            throw ModelError.invalidInput("\(file.path): tokenizer.chat_template is not a format Dojo knows (ChatML or Llama 3): \(text.prefix(80))…; send plain prompts without --chat")
        }
        self = t
    }

    /// The prompt text for `messages`, ending with the assistant's turn opened.
    public func render(_ messages: [ChatMessage]) -> String {
        var out = ""
        switch self {
        case .chatML(let defaultSystem):
            if let defaultSystem, messages.first?.role != "system" {
                out += "<|im_start|>system\n\(defaultSystem)<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>\(m.role)\n\(m.content)<|im_end|>\n" }
            out += "<|im_start|>assistant\n"
        case .llama3:
            for m in messages {
                out += "<|start_header_id|>\(m.role)<|end_header_id|>\n\n"
                out += m.content.trimmingCharacters(in: .whitespacesAndNewlines) + "<|eot_id|>"
            }
            out += "<|start_header_id|>assistant<|end_header_id|>\n\n"
        }
        return out
    }

    /// A system turn the template adds when the first message is not a system one, e.g. SmolLM2's
    /// `{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n…<|im_end|>\n' }}`.
    static func defaultSystem(in text: String) -> String? {
        guard text.contains("!= 'system'") || text.contains("!= \"system\""),
              let start = text.range(of: "<|im_start|>system\\n") ?? text.range(of: "<|im_start|>system\n"),
              let end = text.range(of: "<|im_end|>", range: start.upperBound..<text.endIndex) else { return nil }
        let body = String(text[start.upperBound..<end.lowerBound])
        // A Jinja expression (e.g. messages[0]['content']) is not a literal default.
        if body.contains("{{") || body.contains("'") && body.contains("+") { return nil }
        return body.replacingOccurrences(of: "\\n", with: "\n")
    }
}
