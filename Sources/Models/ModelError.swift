import Foundation

/// Why a model, its configuration or an adapter could not be used; each message names the file and the fix.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case missingFile(URL, hint: String)
    case invalidConfig(URL, key: String, reason: String)
    case unknownModel(String, searched: [String])
    case adapter(URL, String)
    case adapterShape(URL, tensor: String, expected: [Int], found: [Int])
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .missingFile(url, hint):
            return "\(url.path): not found or unreadable; \(hint)"
        case let .invalidConfig(url, key, reason):
            return key.isEmpty ? "\(url.path): \(reason)" : "\(url.path): '\(key)' \(reason)"
        case let .unknownModel(name, searched):
            return "model '\(name)' not found (looked in \(searched.joined(separator: ", "))); "
                + "give a model directory or file, or run ops/setup to fetch 'minilm' and 'smollm2'"
        case let .adapter(url, message):
            return "\(url.path): \(message)"
        case let .adapterShape(url, tensor, expected, found):
            return "\(url.path): tensor '\(tensor)' has shape \(found) but the model needs \(expected); "
                + "this adapter was trained for another base model"
        case let .invalidInput(message):
            return message
        }
    }
}
