// WordPieceTokenizer: a Hugging Face `tokenizer.json` of model type WordPiece
// with BertNormalizer, BertPreTokenizer and a [CLS] A [SEP] post-processor
// (follows tokenizers' `models::wordpiece::WordPiece`, `pre_tokenizers::bert`
// and `processors::template`; ids match `Tokenizer.encode` exactly).
//
// Per call: split the raw text on added tokens ("[MASK]" in the text is the
// special token), then per whitespace-delimited chunk normalize, split on
// whitespace and punctuation, and match each word greedily, longest first,
// against a trie of the vocabulary. All work is on scalar values; no String
// is built per character or per word.
import Foundation


public final class WordPieceTokenizer: @unchecked Sendable {
    /// Largest vocabulary id accepted (hostile-input cap).
    public static let maxVocabularyId = 10_000_000

    public let url: URL
    public let normalizer: BertNormalizer
    public let unknownTokenId: Int32
    public let padTokenId: Int32
    public let maxInputCharsPerWord: Int
    public let continuingSubwordPrefix: String
    /// The ids the post-processor puts before and after the sequence.
    public let prefixIds: [Int32]
    public let suffixIds: [Int32]

    /// Vocabulary trie: node → token id (−1 for none); edges keyed by node << 21 | scalar.
    private var terminal: [Int32] = [-1]
    private var edges: [UInt64: Int32] = [:]
    /// The node after the continuing-subword prefix ("##"); −1 if no token has it.
    private var continuationRoot: Int32 = -1
    private var idToToken: [String?] = []

    /// Added tokens matched in the raw text before normalization.
    private struct AddedToken {
        let scalars: [UInt32]
        let id: Int32
    }
    private var addedTokens: [AddedToken] = []
    private var addedFirstASCII = [Bool](repeating: false, count: 128)
    private var addedFirstOther: Set<UInt32> = []

    /// Largest id + 1 over the vocabulary and the added tokens.
    public var vocabularySize: Int { idToToken.count }

    /// Number of special ids the template adds around one sequence.
    public var specialTokenCount: Int { prefixIds.count + suffixIds.count }

    public init(url: URL) throws {
        self.url = url
        let path = url.path
        func fail(_ message: String) -> TokenizerError { TokenizerError(path: path, message) }

        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw fail("cannot be read (\(error.localizedDescription)); check the path, or re-run ops/setup for the models")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw fail("is not a JSON object; it is truncated or corrupt, re-run ops/setup")
        }

        // Model.
        guard let model = root["model"] as? [String: Any] else {
            throw fail("has no 'model' object; it is not a Hugging Face tokenizer.json")
        }
        let modelType = model["type"] as? String ?? "(none)"
        guard modelType == "WordPiece" else {
            throw fail("model type '\(modelType)' is not supported for encoders; encoders need a WordPiece (BERT-family) tokenizer.json")
        }
        guard let vocab = model["vocab"] as? [String: Any], !vocab.isEmpty else {
            throw fail("model.vocab is missing or empty; the file is corrupt")
        }
        maxInputCharsPerWord = try Self.integer(model["max_input_chars_per_word"], default: 100, key: "model.max_input_chars_per_word", fail)
        let prefix = model["continuing_subword_prefix"] as? String ?? "##"
        continuingSubwordPrefix = prefix

        // Normalizer.
        if let n = root["normalizer"] as? [String: Any] {
            let type = n["type"] as? String ?? "(none)"
            guard type == "BertNormalizer" else {
                throw fail("normalizer type '\(type)' is not supported; WordPiece encoders need BertNormalizer")
            }
            normalizer = BertNormalizer(cleanText: n["clean_text"] as? Bool ?? true,
                                        handleChineseChars: n["handle_chinese_chars"] as? Bool ?? true,
                                        stripAccents: n["strip_accents"] as? Bool,
                                        lowercase: n["lowercase"] as? Bool ?? true)
        } else if root["normalizer"] == nil || root["normalizer"] is NSNull {
            normalizer = BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false)
        } else {
            throw fail("'normalizer' is not an object; the file is corrupt")
        }

        // Pre-tokenizer.
        let pre = root["pre_tokenizer"] as? [String: Any]
        let preType = pre?["type"] as? String ?? "(none)"
        guard preType == "BertPreTokenizer" else {
            throw fail("pre_tokenizer type '\(preType)' is not supported; WordPiece encoders need BertPreTokenizer")
        }

        // Vocabulary.
        var maxId = -1
        var tokenIds: [(String, Int32)] = []
        tokenIds.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            let id = try Self.integer(value, default: nil, key: "model.vocab['\(token)']", fail)
            guard id >= 0, id <= Self.maxVocabularyId else {
                throw fail("model.vocab['\(token)'] has id \(id), outside 0…\(Self.maxVocabularyId); the file is corrupt")
            }
            maxId = max(maxId, id)
            tokenIds.append((token, Int32(id)))
        }
        let unkToken = model["unk_token"] as? String ?? "[UNK]"
        guard let unk = vocab[unkToken].flatMap({ ($0 as? NSNumber)?.int32Value }) else {
            throw fail("model.unk_token '\(unkToken)' is not in the vocabulary; the file is corrupt")
        }
        unknownTokenId = unk

        // Added tokens (special tokens typed in the text match as themselves).
        var added: [AddedToken] = []
        var addedNames: [(String, Int32)] = []
        if let list = root["added_tokens"] as? [Any] {
            for (k, item) in list.enumerated() {
                guard let t = item as? [String: Any], let content = t["content"] as? String else {
                    throw fail("added_tokens[\(k)] has no 'content'; the file is corrupt")
                }
                let id = try Self.integer(t["id"], default: nil, key: "added_tokens[\(k)].id", fail)
                guard id >= 0, id <= Self.maxVocabularyId else {
                    throw fail("added_tokens[\(k)] has id \(id), outside 0…\(Self.maxVocabularyId); the file is corrupt")
                }
                maxId = max(maxId, id)
                addedNames.append((content, Int32(id)))
                let scalars = content.unicodeScalars.map(\.value)
                if !scalars.isEmpty { added.append(AddedToken(scalars: scalars, id: Int32(id))) }
            }
        }

        // Post-processor: the ids around a single sequence.
        var ids: (prefix: [Int32], suffix: [Int32]) = ([], [])
        if let post = root["post_processor"] as? [String: Any] {
            ids = try Self.template(post, fail)
        } else if !(root["post_processor"] == nil || root["post_processor"] is NSNull) {
            throw fail("'post_processor' is not an object; the file is corrupt")
        }
        prefixIds = ids.prefix
        suffixIds = ids.suffix

        // Pad id: the padding section's, else [PAD]'s, else 0.
        if let padding = root["padding"] as? [String: Any], let padId = (padding["pad_id"] as? NSNumber)?.int32Value {
            padTokenId = padId
        } else if let padId = (vocab["[PAD]"] as? NSNumber)?.int32Value {
            padTokenId = padId
        } else {
            padTokenId = 0
        }

        // Build the trie and the id → token table.
        idToToken = [String?](repeating: nil, count: maxId + 1)
        edges.reserveCapacity(vocab.count * 4)
        terminal.reserveCapacity(vocab.count * 3)
        for (token, id) in tokenIds {
            idToToken[Int(id)] = token
            insert(token, id: id)
        }
        for (content, id) in addedNames where idToToken[Int(id)] == nil { idToToken[Int(id)] = content }
        continuationRoot = walk(prefix)

        // Longest first, so the first match at a position is the leftmost-longest.
        addedTokens = added.sorted { $0.scalars.count > $1.scalars.count }
        for t in addedTokens {
            if t.scalars[0] < 128 { addedFirstASCII[Int(t.scalars[0])] = true } else { addedFirstOther.insert(t.scalars[0]) }
        }
    }

    private static func integer(_ value: Any?, default fallback: Int?, key: String,
                                _ fail: (String) -> TokenizerError) throws -> Int {
        if value == nil || value is NSNull, let fallback { return fallback }
        guard let n = value as? NSNumber, let type = String(validatingCString: n.objCType), "silqSILQ".contains(type),
              let i = Int(exactly: n.int64Value) else {
            throw fail("\(key) is not an integer; the file is corrupt")
        }
        return i
    }

    /// The special ids before and after the sequence in a TemplateProcessing
    /// or BertProcessing post-processor.
    private static func template(_ post: [String: Any], _ fail: (String) -> TokenizerError) throws -> ([Int32], [Int32]) {
        let type = post["type"] as? String ?? "(none)"
        func ids(_ value: Any?, _ what: String) throws -> [Int32] {
            guard let list = value as? [Any] else { throw fail("post_processor \(what) has no ids; the file is corrupt") }
            return try list.map { Int32(try integer($0, default: nil, key: "post_processor \(what) id", fail)) }
        }
        switch type {
        case "TemplateProcessing":
            guard let single = post["single"] as? [Any] else {
                throw fail("post_processor.single is missing; the file is corrupt")
            }
            let specials = post["special_tokens"] as? [String: Any] ?? [:]
            var before: [Int32] = [], after: [Int32] = []
            var seenSequence = false
            for piece in single {
                guard let p = piece as? [String: Any] else { throw fail("post_processor.single has a malformed piece; the file is corrupt") }
                if let s = p["SpecialToken"] as? [String: Any], let name = s["id"] as? String {
                    guard let entry = specials[name] as? [String: Any] else {
                        throw fail("post_processor special token '\(name)' is not in special_tokens; the file is corrupt")
                    }
                    let tokenIds = try ids(entry["ids"], "special token '\(name)'")
                    if seenSequence { after += tokenIds } else { before += tokenIds }
                } else if let s = p["Sequence"] as? [String: Any], (s["id"] as? String) == "A", !seenSequence {
                    seenSequence = true
                } else {
                    throw fail("post_processor.single piece \(p.keys.sorted()) is not supported; expected [CLS] A [SEP]-style templates")
                }
            }
            guard seenSequence else { throw fail("post_processor.single has no sequence 'A'; the file is corrupt") }
            return (before, after)
        case "BertProcessing":
            guard let cls = post["cls"] as? [Any], cls.count == 2, let sep = post["sep"] as? [Any], sep.count == 2 else {
                throw fail("post_processor BertProcessing needs cls and sep as [token, id]; the file is corrupt")
            }
            return ([Int32(try integer(cls[1], default: nil, key: "post_processor.cls id", fail))],
                    [Int32(try integer(sep[1], default: nil, key: "post_processor.sep id", fail))])
        default:
            throw fail("post_processor type '\(type)' is not supported; WordPiece encoders need TemplateProcessing or BertProcessing")
        }
    }

    // MARK: trie

    @inline(__always)
    private static func key(_ node: Int32, _ scalar: UInt32) -> UInt64 { UInt64(UInt32(bitPattern: node)) << 21 | UInt64(scalar) }

    private func insert(_ token: String, id: Int32) {
        var node: Int32 = 0
        for u in token.unicodeScalars {
            let k = Self.key(node, u.value)
            if let next = edges[k] {
                node = next
            } else {
                let next = Int32(terminal.count)
                terminal.append(-1)
                edges[k] = next
                node = next
            }
        }
        // Keep the first id for duplicate strings (cannot happen in a JSON object).
        if node != 0, terminal[Int(node)] < 0 { terminal[Int(node)] = id }
    }

    private func walk(_ s: String) -> Int32 {
        var node: Int32 = 0
        for u in s.unicodeScalars {
            guard let next = edges[Self.key(node, u.value)] else { return -1 }
            node = next
        }
        return node
    }

    // MARK: encoding

    /// Ids with [CLS]/[SEP] (the file's template), truncated to `maxLength`
    /// tokens total (keeping the final [SEP]); `truncated` says whether
    /// anything was cut. A `maxLength` below the template's special count
    /// still returns the specials.
    public func encode(_ text: String, maxLength: Int) -> (ids: [Int32], truncated: Bool) {
        let budget = max(0, maxLength - specialTokenCount)
        var body: [Int32] = []
        body.reserveCapacity(min(budget + 1, 1024))
        var raw: [UInt32] = []
        raw.reserveCapacity(64)
        var norm: [UInt32] = []
        norm.reserveCapacity(64)

        let scalars = text.unicodeScalars
        var i = scalars.startIndex
        let end = scalars.endIndex
        scan: while i < end {
            let c = scalars[i].value
            // ASCII whitespace ends a chunk: normalization never joins across it.
            if c == 0x20 || c == 0x0A || c == 0x09 || c == 0x0D {
                if !raw.isEmpty {
                    flush(&raw, &norm, &body)
                    if body.count > budget { break scan }
                }
                i = scalars.index(after: i)
                continue
            }
            if c < 128 ? addedFirstASCII[Int(c)] : (!addedFirstOther.isEmpty && addedFirstOther.contains(c)),
               let (id, next) = matchAdded(scalars, at: i) {
                flush(&raw, &norm, &body)
                body.append(id)
                if body.count > budget { break scan }
                i = next
                continue
            }
            raw.append(c)
            i = scalars.index(after: i)
        }
        if body.count <= budget { flush(&raw, &norm, &body) }

        let truncated = body.count > budget
        var ids: [Int32] = []
        ids.reserveCapacity(min(body.count, budget) + specialTokenCount)
        ids += prefixIds
        ids += body.prefix(budget)
        ids += suffixIds
        return (ids, truncated)
    }

    /// The vocabulary strings of `ids` (for debugging and `dojo tokenize`);
    /// ids outside the vocabulary read "<invalid id N>".
    public func tokens(_ ids: [Int32]) -> [String] {
        ids.map { id in
            if id >= 0, Int(id) < idToToken.count, let t = idToToken[Int(id)] { return t }
            return "<invalid id \(id)>"
        }
    }

    /// The id of a vocabulary or added token string, if any.
    public func id(of token: String) -> Int32? {
        for t in addedTokens where t.scalars.elementsEqual(token.unicodeScalars.map(\.value)) { return t.id }
        let node = walk(token)
        guard node > 0 else { return nil }
        let id = terminal[Int(node)]
        return id >= 0 ? id : nil
    }

    /// The longest added token starting at `i`, and the index after it.
    private func matchAdded(_ scalars: String.UnicodeScalarView, at i: String.UnicodeScalarView.Index)
        -> (Int32, String.UnicodeScalarView.Index)? {
        let first = scalars[i].value
        candidates: for t in addedTokens where t.scalars[0] == first {
            var j = scalars.index(after: i)
            for k in 1 ..< t.scalars.count {
                guard j < scalars.endIndex, scalars[j].value == t.scalars[k] else { continue candidates }
                j = scalars.index(after: j)
            }
            return (t.id, j)
        }
        return nil
    }

    /// Normalizes, pre-tokenizes and word-pieces one chunk of raw scalars.
    private func flush(_ raw: inout [UInt32], _ norm: inout [UInt32], _ body: inout [Int32]) {
        guard !raw.isEmpty else { return }
        norm.removeAll(keepingCapacity: true)
        normalizer.normalize(raw, into: &norm)
        raw.removeAll(keepingCapacity: true)
        norm.withUnsafeBufferPointer { s in
            // BertPreTokenizer: whitespace separates, every punctuation
            // character is a word of its own.
            var wordStart = 0
            for j in 0 ..< s.count {
                let c = s[j]
                if BertNormalizer.isWhitespace(c) {
                    if j > wordStart { wordPiece(s, wordStart, j, &body) }
                    wordStart = j + 1
                } else if BertNormalizer.isPunctuation(c) {
                    if j > wordStart { wordPiece(s, wordStart, j, &body) }
                    wordPiece(s, j, j + 1, &body)
                    wordStart = j + 1
                }
            }
            if s.count > wordStart { wordPiece(s, wordStart, s.count, &body) }
        }
    }

    /// Greedy longest-match-first WordPiece of `s[lo..<hi]`; a word longer
    /// than `maxInputCharsPerWord` or with an unmatched piece is one [UNK].
    @inline(__always)
    private func wordPiece(_ s: UnsafeBufferPointer<UInt32>, _ lo: Int, _ hi: Int, _ body: inout [Int32]) {
        if hi - lo > maxInputCharsPerWord {
            body.append(unknownTokenId)
            return
        }
        let mark = body.count
        var start = lo
        while start < hi {
            var node: Int32 = start == lo ? 0 : continuationRoot
            var bestEnd = -1
            var bestId: Int32 = -1
            if node >= 0 {
                var j = start
                while j < hi, let next = edges[Self.key(node, s[j])] {
                    node = next
                    j += 1
                    let id = terminal[Int(node)]
                    if id >= 0 { bestEnd = j; bestId = id }
                }
            }
            if bestEnd < 0 {
                body.removeSubrange(mark...)
                body.append(unknownTokenId)
                return
            }
            body.append(bestId)
            start = bestEnd
        }
    }
}
