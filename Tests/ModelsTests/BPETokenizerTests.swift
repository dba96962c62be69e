import Foundation
import Models
import TestSupport
import XCTest

/// Tokenizers from GGUF metadata.
///
/// Expected values come from three places: llama.cpp's own token ids in
/// ../shared/reference/smollm2/reference.json (prompts, greedy continuations,
/// and the perplexity text's token count); fixtures made once by
/// ops/fixtures/make_tokenizer_fixtures.py with the Hugging Face `tokenizers`
/// package (pre-tokeniser splits for each `tokenizer.ggml.pre` regex, and
/// SmolLM2's ids from its GGUF vocabulary rebuilt as a `tokenizers` BPE); and
/// small hand-made SentencePiece vocabularies worked out by hand below.
final class BPETokenizerTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer")

    // MARK: Pre-tokenisers

    struct PreCases: Decodable {
        struct Case: Decodable { let pre: String; let text: String; let words: [String] }
        let cases: [Case]
    }

    func testPreTokenizersSplitLikeTheirRegexes() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("pretokenizer_cases.json"))
        let cases = try JSONDecoder().decode(PreCases.self, from: data).cases
        XCTAssertEqual(Set(cases.map(\.pre)), Set(BPEPreTokenizer.allCases.map(\.rawValue)))
        for c in cases {
            let pre = try XCTUnwrap(BPEPreTokenizer(rawValue: c.pre))
            XCTAssertEqual(pre.split(c.text), c.words, "\(c.pre): \(c.text.debugDescription)")
        }
    }

    func testPreTokenizerNames() {
        XCTAssertEqual(BPEPreTokenizer(ggufName: "smollm"), .smollm)
        XCTAssertEqual(BPEPreTokenizer(ggufName: "llama-bpe"), .llama3)
        XCTAssertEqual(BPEPreTokenizer(ggufName: "qwen2"), .qwen2)
        XCTAssertEqual(BPEPreTokenizer(ggufName: "default"), .default)
        XCTAssertEqual(BPEPreTokenizer(ggufName: "gpt-2"), .gpt2)
        XCTAssertNil(BPEPreTokenizer(ggufName: "chameleon"))
    }

    // MARK: SmolLM2 (byte-level BPE, pre = smollm)

    static let smollm: BPETokenizer? = {
        guard FileManager.default.fileExists(atPath: TestPaths.smollm2.path) else { return nil }
        return try? BPETokenizer(gguf: GGUFFile(path: TestPaths.smollm2.path))
    }()

    private func smollmTokenizer() throws -> BPETokenizer {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: TestPaths.smollm2.path), "run ops/setup to fetch SmolLM2")
        return try XCTUnwrap(Self.smollm)
    }

    struct Reference: Decodable {
        struct Prompt: Decodable {
            let prompt: String
            let prompt_token_ids: [Int32]
            let greedy_continuation: String
            let greedy_generated_token_ids: [Int32]
            let ignore_eog_continuation: String
            let ignore_eog_generated_token_ids: [Int32]
        }
        struct Perplexity: Decodable { let n_tokens: Int }
        let prompts: [String: Prompt]
        let perplexity: Perplexity
    }

    private func reference() throws -> Reference {
        let url = TestPaths.reference.appendingPathComponent("smollm2/reference.json")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: url.path), "no \(url.path)")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    func testSmolLM2MetadataRules() throws {
        let t = try smollmTokenizer()
        XCTAssertEqual(t.kind, .byteLevel(.smollm))
        XCTAssertEqual(t.vocabularySize, 49152)
        XCTAssertEqual(t.bos, 1)
        XCTAssertEqual(t.eos, 2)
        XCTAssertEqual(t.pad, 2)
        XCTAssertEqual(t.unk, 0)
        XCTAssertFalse(t.addBOS)
        XCTAssertFalse(t.addEOS)
        XCTAssertEqual(t.eot, 2)  // <|im_end|>
        XCTAssertEqual(t.endOfGeneration, [0, 2])  // as llama.cpp: <|endoftext|>, <|im_end|>
        XCTAssertEqual(t.id(of: "<|im_start|>"), 1)
    }

    func testSmolLM2PromptsMatchLlamaCpp() throws {
        let t = try smollmTokenizer()
        let ref = try reference()
        XCTAssertEqual(ref.prompts.count, 3)
        for (name, p) in ref.prompts.sorted(by: { $0.key < $1.key }) {
            XCTAssertEqual(t.encode(p.prompt, addSpecial: true), p.prompt_token_ids, "prompt \(name)")
            XCTAssertEqual(t.decode(p.greedy_generated_token_ids), p.greedy_continuation, "prompt \(name)")
            XCTAssertEqual(t.decode(p.ignore_eog_generated_token_ids), p.ignore_eog_continuation, "prompt \(name)")
            XCTAssertEqual(t.decode(p.prompt_token_ids), p.prompt)
        }
    }

    func testSmolLM2PerplexityTextTokenCount() throws {
        let t = try smollmTokenizer()
        let ref = try reference()
        let text = try String(contentsOf: TestPaths.reference.appendingPathComponent("smollm2/ppl_text.txt"), encoding: .utf8)
        let ids = t.encode(text, addSpecial: true)
        XCTAssertEqual(ids.count, ref.perplexity.n_tokens)
        XCTAssertEqual(t.decode(ids), text)

        // Throughput, for the record (not a pass/fail figure).
        let corpus = String(repeating: text + "\n", count: 20)
        let start = Date()
        let n = t.encode(corpus, addSpecial: false).count
        let s = Date().timeIntervalSince(start)
        print("BPETokenizer: \(n) tokens, \(corpus.utf8.count) bytes in \(String(format: "%.3f", s)) s = \(Int(Double(corpus.utf8.count) / s / 1e6 * 10) / 10) MB/s")
    }

    struct IDCases: Decodable {
        struct Case: Decodable { let text: String; let ids: [Int32] }
        let cases: [Case]
    }

    func testSmolLM2MatchesHuggingFaceTokenizers() throws {
        let t = try smollmTokenizer()
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("smollm2_cases.json"))
        for c in try JSONDecoder().decode(IDCases.self, from: data).cases {
            let ids = t.encode(c.text, addSpecial: true)
            XCTAssertEqual(ids, c.ids, c.text.debugDescription)
            XCTAssertEqual(t.decode(ids, special: true), c.text, c.text.debugDescription)
        }
    }

    func testSmolLM2NamedCases() throws {
        let t = try smollmTokenizer()
        func pieces(_ s: String) -> [String] {
            t.encode(s, addSpecial: false).map { String(decoding: t.piece($0, special: true), as: UTF8.self) }
        }
        // Digits are split one by one (smollm's \p{N} stage).
        XCTAssertEqual(pieces("in 2024"), ["in", " ", "2", "0", "2", "4"])
        // Contractions split off.
        XCTAssertEqual(pieces("it's")[1...], ["'s"])
        XCTAssertEqual(pieces("don't we're"), ["don", "'t", " we", "'re"])
        // Runs of spaces: all but the last space stay together.
        XCTAssertEqual(pieces("a   b").joined(), "a   b")
        XCTAssertEqual(pieces("a   b").last, " b")
        // Newlines.
        XCTAssertEqual(t.encode("\n", addSpecial: false), [198])
        // Emoji: byte-level tokens that decode back exactly.
        let emoji = "🤖"
        XCTAssertEqual(t.decode(t.encode(emoji, addSpecial: false)), emoji)
        // Special tokens in text become their ids; their neighbours tokenise normally.
        XCTAssertEqual(t.encode("<|im_start|>user", addSpecial: false), [1, 4093])
        XCTAssertEqual(t.decode([1, 4093]), "user")  // control tokens hidden...
        XCTAssertEqual(t.decode([1, 4093], special: true), "<|im_start|>user")  // ...unless asked for
        XCTAssertEqual(t.encode("", addSpecial: true), [])
    }

    func testStreamingNeverSplitsACharacter() throws {
        let t = try smollmTokenizer()
        let text = "Zürich 🤖🇫🇷 中文 ok"
        let ids = t.encode(text, addSpecial: false)
        var stream = t.makeStreamingDetokenizer()
        var chunks: [String] = []
        for id in ids { chunks.append(stream.append(id)) }
        chunks.append(stream.finish())
        XCTAssertEqual(chunks.joined(), text)
        XCTAssertFalse(chunks.contains { $0.unicodeScalars.contains("\u{FFFD}") }, "\(chunks)")
        // Some chunk was held back: the robot emoji spans several byte tokens.
        XCTAssertTrue(chunks.contains(""), "\(chunks)")
        // A character cut off at the end flushes as U+FFFD.
        var cut = t.makeStreamingDetokenizer()
        let robot = t.encode("🤖", addSpecial: false)
        XCTAssertGreaterThan(robot.count, 1)
        XCTAssertEqual(cut.append(robot[0]), "")
        XCTAssertEqual(cut.finish(), "\u{FFFD}")
    }

    // MARK: Byte-level BPE from a small file

    private func byteLevelFile(pre: String?, merges: [String], extraTokens: [(String, Int32)] = [],
                               keys: [(String, GGUFValue)] = []) throws -> BPETokenizer {
        // The 256 byte tokens in byte order, then merge results, then extras.
        var tokens = (0..<256).map { b -> String in
            var s = String.UnicodeScalarView()
            let v: UInt32 = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
                ? UInt32(b) : 256 + UInt32((0..<b).filter { !((0x21...0x7E).contains($0) || (0xA1...0xAC).contains($0) || (0xAE...0xFF).contains($0)) }.count)
            s.append(Unicode.Scalar(v)!)
            return String(s)
        }
        var types = [Int32](repeating: 1, count: 256)
        for m in merges {
            let parts = m.split(separator: " ", maxSplits: 1).map(String.init)
            tokens.append(parts[0] + parts[1]); types.append(1)
        }
        for (t, ty) in extraTokens { tokens.append(t); types.append(ty) }
        var w = GGUFWriter()
        w.add("tokenizer.ggml.model", "gpt2")
        if let pre { w.add("tokenizer.ggml.pre", pre) }
        w.add("tokenizer.ggml.tokens", tokens)
        w.add("tokenizer.ggml.token_type", .array(.int32(types)))
        w.add("tokenizer.ggml.merges", merges)
        for (k, v) in keys { w.add(k, v) }
        return try BPETokenizer(gguf: GGUFFile(bytes: w.bytes()))
    }

    func testMergeOrderByRankThenLeftmost() throws {
        // "aaa": the pair (a,a) occurs twice; the leftmost merges first → "aa" + "a".
        let t = try byteLevelFile(pre: "gpt2", merges: ["a a", "b c", "a bc"])
        let aa = try XCTUnwrap(t.id(of: "aa")), bc = try XCTUnwrap(t.id(of: "bc")), abc = try XCTUnwrap(t.id(of: "abc"))
        let a = try XCTUnwrap(t.id(of: "a"))
        XCTAssertEqual(t.encode("aaa", addSpecial: false), [aa, a])
        XCTAssertEqual(t.encode("aaaa", addSpecial: false), [aa, aa])
        // Rank decides: "a b c" → (b,c) has rank 1, then (a,bc) rank 2; (a,a) is rank 0.
        XCTAssertEqual(t.encode("abc", addSpecial: false), [abc])
        XCTAssertEqual(t.encode("aabc", addSpecial: false), [aa, bc])
        // A long word goes through the same heap.
        let long = String(repeating: "a", count: 1001)
        XCTAssertEqual(t.encode(long, addSpecial: false), Array(repeating: aa, count: 500) + [a])
    }

    func testLlama3TakesWholeWordsFromTheVocabulary() throws {
        // llama.cpp's ignore_merges for llama-bpe: a word that is a token is
        // used whole even when no merge path leads to it.
        let llama = try byteLevelFile(pre: "llama-bpe", merges: ["a b"], extraTokens: [("abc", 1)])
        XCTAssertEqual(llama.kind, .byteLevel(.llama3))
        XCTAssertTrue(llama.addBOS)  // llama.cpp's default for llama-bpe when add_bos_token is absent
        XCTAssertEqual(llama.encode("abc", addSpecial: false), [llama.id(of: "abc")!])
        let gpt2 = try byteLevelFile(pre: "gpt2", merges: ["a b"], extraTokens: [("abc", 1)])
        XCTAssertEqual(gpt2.encode("abc", addSpecial: false), [gpt2.id(of: "ab")!, gpt2.id(of: "c")!])
    }

    func testBOSAndEOSFollowMetadata() throws {
        let t = try byteLevelFile(pre: "default", merges: [], extraTokens: [("<s>", 3), ("</s>", 3)],
                                  keys: [("tokenizer.ggml.bos_token_id", .uint32(256)), ("tokenizer.ggml.eos_token_id", .uint32(257)),
                                         ("tokenizer.ggml.add_bos_token", .bool(true)), ("tokenizer.ggml.add_eos_token", .bool(true))])
        XCTAssertEqual(t.encode("a", addSpecial: true), [256, t.id(of: "a")!, 257])
        XCTAssertEqual(t.encode("a", addSpecial: false), [t.id(of: "a")!])
        XCTAssertEqual(t.encode("<s>a</s>", addSpecial: false), [256, t.id(of: "a")!, 257])
        XCTAssertTrue(t.isEndOfGeneration(257))
    }

    func testBadTokenizerMetadataIsNamed() throws {
        XCTAssertThrowsError(try byteLevelFile(pre: "chameleon", merges: [])) { e in
            XCTAssertTrue("\(e)".contains("'chameleon'"), "\(e)")
        }
        var w = GGUFWriter()
        w.add("tokenizer.ggml.model", "bert")
        w.add("tokenizer.ggml.tokens", ["a"])
        XCTAssertThrowsError(try BPETokenizer(gguf: GGUFFile(bytes: w.bytes()))) { e in
            XCTAssertTrue("\(e)".contains("'bert'"), "\(e)")
        }
        var v = GGUFWriter()
        v.add("tokenizer.ggml.model", "gpt2")
        v.add("tokenizer.ggml.tokens", ["a", "b"])
        v.add("tokenizer.ggml.token_type", .array(.int32([1])))
        XCTAssertThrowsError(try BPETokenizer(gguf: GGUFFile(bytes: v.bytes()))) { e in
            XCTAssertTrue("\(e)".contains("token_type"), "\(e)")
        }
        var u = GGUFWriter()
        u.add("tokenizer.ggml.model", "gpt2")
        u.add("tokenizer.ggml.tokens", ["a"])
        u.add("tokenizer.ggml.merges", [String]())
        u.add("tokenizer.ggml.eos_token_id", .uint32(5))
        XCTAssertThrowsError(try BPETokenizer(gguf: GGUFFile(bytes: u.bytes()))) { e in
            XCTAssertTrue("\(e)".contains("eos_token_id"), "\(e)")
        }
    }

    // MARK: SentencePiece BPE (`llama`)

    /// <unk> <s> </s>, the 256 byte tokens, then `pieces` with their scores.
    private func sentencePiece(_ pieces: [(String, Float)], addSpacePrefix: Bool? = nil,
                               userDefined: [String] = []) throws -> BPETokenizer {
        var tokens = ["<unk>", "<s>", "</s>"]
        var types: [Int32] = [2, 3, 3]
        var scores: [Float] = [0, 0, 0]
        for b in 0..<256 {
            let h = String(b, radix: 16, uppercase: true)
            tokens.append("<0x\(h.count == 1 ? "0" + h : h)>"); types.append(6); scores.append(0)
        }
        for (p, s) in pieces { tokens.append(p); types.append(1); scores.append(s) }
        for u in userDefined { tokens.append(u); types.append(4); scores.append(0) }
        var w = GGUFWriter()
        w.add("tokenizer.ggml.model", "llama")
        w.add("tokenizer.ggml.tokens", tokens)
        w.add("tokenizer.ggml.token_type", .array(.int32(types)))
        w.add("tokenizer.ggml.scores", .array(.float32(scores)))
        w.add("tokenizer.ggml.bos_token_id", .uint32(1))
        w.add("tokenizer.ggml.eos_token_id", .uint32(2))
        if let addSpacePrefix { w.add("tokenizer.ggml.add_space_prefix", .bool(addSpacePrefix)) }
        return try BPETokenizer(gguf: GGUFFile(bytes: w.bytes()))
    }

    func testSentencePieceMergesByScore() throws {
        let t = try sentencePiece([("▁", -1), ("h", -2), ("e", -2), ("l", -2), ("o", -2), ("w", -2),
                                   ("he", -3), ("ll", -4), ("llo", -5), ("hello", -6), ("▁hello", -7),
                                   ("▁w", -8), ("lo", -3.5)])
        func ids(_ s: [String]) -> [Int32] { s.map { t.id(of: $0)! } }
        XCTAssertEqual(t.kind, .sentencePiece)
        XCTAssertTrue(t.addBOS)  // the SentencePiece default
        // " hello": ▁ h e l l o → he (-3), lo (-3.5) beats ll (-4): he l lo →
        // no "hel"/"hello" path through "l lo"? "llo" = l + lo (-5) → he llo → hello → ▁hello.
        XCTAssertEqual(t.encode("hello", addSpecial: false), ids(["▁hello"]))
        XCTAssertEqual(t.encode("hello", addSpecial: true), [1] + ids(["▁hello"]))
        XCTAssertEqual(t.encode("hello w", addSpecial: false), ids(["▁hello", "▁w"]))
        XCTAssertEqual(t.decode(t.encode("hello w", addSpecial: true)), "hello w")
        // Unknown characters fall back to UTF-8 byte tokens.
        XCTAssertEqual(t.encode("é", addSpecial: false), ids(["▁", "<0xC3>", "<0xA9>"]))
        XCTAssertEqual(t.decode(t.encode("é", addSpecial: false)), "é")
        // Special tokens in text; a space prefix follows each one.
        XCTAssertEqual(t.encode("<s>hello</s>", addSpecial: false), [1] + ids(["▁hello"]) + [2])
    }

    struct SPMFixture: Decodable {
        let tokens: [String]
        let scores: [Float]
        let types: [Int32]
        let cases: [IDCases.Case]
    }

    func testSentencePieceMatchesTheSentencepiecePackage() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("spm_bpe.json"))
        let f = try JSONDecoder().decode(SPMFixture.self, from: data)
        var w = GGUFWriter()
        w.add("tokenizer.ggml.model", "llama")
        w.add("tokenizer.ggml.tokens", f.tokens)
        w.add("tokenizer.ggml.scores", .array(.float32(f.scores)))
        w.add("tokenizer.ggml.token_type", .array(.int32(f.types)))
        let t = try BPETokenizer(gguf: GGUFFile(bytes: w.bytes()))
        XCTAssertEqual(t.bos, 1)
        XCTAssertEqual(t.unk, 0)
        XCTAssertTrue(t.addSpacePrefix)
        XCTAssertEqual(f.cases.count, 27)
        for c in f.cases {
            let ids = t.encode(c.text, addSpecial: false)
            XCTAssertEqual(ids, c.ids, c.text.debugDescription)
            XCTAssertEqual(t.decode(ids), c.text, c.text.debugDescription)
        }
        // With BOS, as llama.cpp and sentencepiece's add_bos do.
        XCTAssertEqual(t.encode("hi", addSpecial: true).first, 1)
    }

    func testSentencePieceWithoutSpacePrefixAndUserDefined() throws {
        let t = try sentencePiece([("▁", -1), ("a", -2), ("b", -2), ("ab", -3)], addSpacePrefix: false,
                                  userDefined: ["<tool>"])
        func ids(_ s: [String]) -> [Int32] { s.map { t.id(of: $0)! } }
        XCTAssertEqual(t.encode("ab b", addSpecial: false), ids(["ab", "▁", "b"]))
        XCTAssertEqual(t.encode("a<tool>b", addSpecial: false), ids(["a", "<tool>", "b"]))
        XCTAssertEqual(t.decode(ids(["a", "<tool>", "b"])), "a<tool>b")  // user-defined tokens always show
        XCTAssertEqual(t.decode(ids(["ab", "▁", "b"])), "ab b")
    }
}
