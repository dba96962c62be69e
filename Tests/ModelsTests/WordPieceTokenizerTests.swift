import Foundation
import Models
import TestSupport
import XCTest

/// WordPiece against the reference ids of the real MiniLM tokenizer, and unit
/// cases on a tiny vocabulary; expected ids come from HF tokenizers 0.23.3.
final class WordPieceTokenizerTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dojo-wordpiece-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    // MARK: the real MiniLM tokenizer

    func realTokenizer() throws -> WordPieceTokenizer {
        let u = TestPaths.minilm.appendingPathComponent("tokenizer.json")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: u.path), "MiniLM not installed; run ops/setup")
        return try WordPieceTokenizer(url: u)
    }

    func jsonLines(_ url: URL) throws -> [[String: Any]] {
        try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    func testReferenceSentences() throws {
        let tokenizer = try realTokenizer()
        let dir = TestPaths.reference.appendingPathComponent("minilm")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: dir.appendingPathComponent("tokens.jsonl").path))
        let sentences = try jsonLines(dir.appendingPathComponent("sentences.jsonl"))
        let tokens = try jsonLines(dir.appendingPathComponent("tokens.jsonl"))
        XCTAssertEqual(sentences.count, 64)
        XCTAssertEqual(tokens.count, 64)
        for (s, t) in zip(sentences, tokens) {
            XCTAssertEqual(s["id"] as? String, t["id"] as? String)
            let expected = (t["input_ids"] as! [NSNumber]).map(\.int32Value)
            let (ids, truncated) = tokenizer.encode(s["text"] as! String, maxLength: 256)
            XCTAssertEqual(ids, expected, "\(s["id"]!)")
            XCTAssertEqual(tokenizer.tokens(ids), t["tokens"] as! [String], "\(s["id"]!)")
            XCTAssertEqual(truncated, false)
        }
    }

    func testRealTokenizerBasics() throws {
        let t = try realTokenizer()
        XCTAssertEqual(t.vocabularySize, 30522)
        XCTAssertEqual(t.padTokenId, 0)
        XCTAssertEqual(t.encode("", maxLength: 256).ids, [101, 102])
        // HF: "Héllo, WORLD! naïve café" → [CLS] hello , world ! naive cafe [SEP]
        XCTAssertEqual(t.encode("Héllo, WORLD! naïve café", maxLength: 256).ids,
                       [101, 7592, 1010, 2088, 999, 15743, 7668, 102])
        // HF: "The patient's [MASK] was normal." keeps [MASK] as 103.
        XCTAssertEqual(t.encode("The patient's [MASK] was normal.", maxLength: 256).ids,
                       [101, 1996, 5776, 1005, 1055, 103, 2001, 3671, 1012, 102])
    }

    /// Strings checked one by one against HF tokenizers 0.23.3 on this tokenizer.json.
    func testRealTokenizerEdgeCases() throws {
        let t = try realTokenizer()
        let cases: [(String, [Int32])] = [
            ("hello[MASK]world", [101, 7592, 103, 2088, 102]),
            ("[mask]", [101, 1031, 7308, 1033, 102]),
            ("İ", [101, 1045, 102]),
            ("a\u{2B820}b", [101, 100, 102]),           // outside HF's CJK ranges: one unknown word
            ("a\u{2B920}b", [101, 1037, 100, 1038, 102]),  // inside them: spaced out
            ("\u{F900}", [101, 100, 102]),              // compatibility ideograph, NFD to U+8C48
            ("x\u{37E}y", [101, 1060, 1025, 1061, 102]),  // Greek question mark NFD → ';'
            ("a\u{A0}b\u{3000}c", [101, 1037, 1038, 1039, 102]),
            ("€5 ©2020 a—b «q»", [101, 1574, 2629, 1075, 11387, 11387, 1037, 1517, 1038, 1077, 1053, 1090, 102]),
            ("ﬁne ligature", [101, 1984, 2638, 8018, 11244, 102]),
            ("Straße", [101, 2358, 27807, 102]),
            ("ΣΑΣ", [101, 1173, 14608, 29733, 102]),
            ("a\u{200B}b", [101, 11113, 102]),
            ("a\u{0C}b", [101, 11113, 102]),
            ("\u{07}\u{0B}\u{07}noticer", [101, 5060, 2099, 102]),
        ]
        for (text, ids) in cases {
            XCTAssertEqual(t.encode(text, maxLength: 256).ids, ids, text.debugDescription)
        }
    }

    /// A corpus of random mixed-script strings with HF's ids at max_length 48,
    /// made by a script outside the repository; set DOJO_WORDPIECE_CORPUS to run.
    func testAgainstHFCorpus() throws {
        guard let path = ProcessInfo.processInfo.environment["DOJO_WORDPIECE_CORPUS"] else {
            throw XCTSkip("set DOJO_WORDPIECE_CORPUS to a JSONL of {text, ids, truncated} from HF tokenizers")
        }
        let t = try realTokenizer()
        var failures = 0
        for line in try jsonLines(URL(fileURLWithPath: path)) {
            let text = line["text"] as! String
            let expected = (line["ids"] as! [NSNumber]).map(\.int32Value)
            let got = t.encode(text, maxLength: 48)
            if got.ids != expected || got.truncated != (line["truncated"] as! Bool) {
                failures += 1
                if failures <= 10 { XCTFail("\(text.debugDescription): got \(got), expected \(expected)") }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    func testRealTokenizerTruncationKeepsSep() throws {
        let t = try realTokenizer()
        let text = String(repeating: "notice ", count: 300)
        let (ids, truncated) = t.encode(text, maxLength: 16)
        XCTAssertTrue(truncated)
        XCTAssertEqual(ids.count, 16)
        XCTAssertEqual(ids.first, 101)
        XCTAssertEqual(ids.last, 102)
        let exact = t.encode(String(repeating: "notice ", count: 14), maxLength: 16)
        XCTAssertFalse(exact.truncated)
        XCTAssertEqual(exact.ids.count, 16)
    }

    // MARK: a tiny vocabulary

    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "un", "##aff", "##able",
                             "e", "cafe", ",", "!", ".", "'", "s", "中", "国", "a", "##b", "[", "]", "mask", "-", "x"]

    func tinyTokenizer(modelType: String = "WordPiece", normalizer: [String: Any]? = nil,
                       maxChars: Int = 10) throws -> WordPieceTokenizer {
        var vocab: [String: Int] = [:]
        for (i, t) in Self.vocabulary.enumerated() { vocab[t] = i }
        let special = { (id: Int, content: String) -> [String: Any] in
            ["id": id, "content": content, "special": true, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false]
        }
        let object: [String: Any] = [
            "version": "1.0",
            "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]"), special(4, "[MASK]")],
            "normalizer": normalizer ?? ["type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                                         "strip_accents": NSNull(), "lowercase": true],
            "pre_tokenizer": ["type": "BertPreTokenizer"],
            "post_processor": [
                "type": "TemplateProcessing",
                "single": [["SpecialToken": ["id": "[CLS]", "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                           ["SpecialToken": ["id": "[SEP]", "type_id": 0]]],
                "pair": [] as [Any],
                "special_tokens": ["[CLS]": ["id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]],
                                   "[SEP]": ["id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]]],
            ],
            "model": ["type": modelType, "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                      "max_input_chars_per_word": maxChars, "vocab": vocab],
        ]
        let u = directory.appendingPathComponent("tokenizer.json")
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: u)
        return try WordPieceTokenizer(url: u)
    }

    func pieces(_ t: WordPieceTokenizer, _ text: String, maxLength: Int = 64) -> [String] {
        t.tokens(t.encode(text, maxLength: maxLength).ids)
    }

    func testEmptyTextIsClsSep() throws {
        let t = try tinyTokenizer()
        XCTAssertEqual(t.encode("", maxLength: 8).ids, [2, 3])
        XCTAssertEqual(t.encode(" \n\t\u{0}", maxLength: 8).ids, [2, 3])
        XCTAssertFalse(t.encode("", maxLength: 8).truncated)
    }

    func testContinuations() throws {
        let t = try tinyTokenizer()
        XCTAssertEqual(pieces(t, "unaffable"), ["[CLS]", "un", "##aff", "##able", "[SEP]"])
        XCTAssertEqual(t.encode("Hello unaffable world", maxLength: 64).ids, [2, 5, 7, 8, 9, 6, 3])
        // "ab" = a ##b; "abb" = a ##b ##b
        XCTAssertEqual(pieces(t, "abb"), ["[CLS]", "a", "##b", "##b", "[SEP]"])
    }

    func testUnknownPieceMakesTheWholeWordUnknown() throws {
        let t = try tinyTokenizer()
        // "unaffz": un ##aff then no piece for "z" → the whole word is [UNK].
        XCTAssertEqual(pieces(t, "hello unaffz world"), ["[CLS]", "hello", "[UNK]", "world", "[SEP]"])
        // An unknown character.
        XCTAssertEqual(pieces(t, "hello ☃ world"), ["[CLS]", "hello", "[UNK]", "world", "[SEP]"])
    }

    func testTooLongWordIsUnknown() throws {
        let t = try tinyTokenizer(maxChars: 10)
        XCTAssertEqual(pieces(t, "a" + String(repeating: "b", count: 9)), ["[CLS]", "a"] + Array(repeating: "##b", count: 9) + ["[SEP]"])
        XCTAssertEqual(pieces(t, "a" + String(repeating: "b", count: 10)), ["[CLS]", "[UNK]", "[SEP]"])
    }

    func testAccentsAreStripped() throws {
        let t = try tinyTokenizer()
        XCTAssertEqual(pieces(t, "é"), ["[CLS]", "e", "[SEP]"])
        XCTAssertEqual(pieces(t, "CAFÉ Café cafe\u{301}"), ["[CLS]", "cafe", "cafe", "cafe", "[SEP]"])
        XCTAssertEqual(BertNormalizer().normalize("Ça Naïve ÀÉÎ"), "ca naive aei")
        // strip_accents false with lowercase keeps the accent.
        XCTAssertEqual(BertNormalizer(stripAccents: false, lowercase: true).normalize("É"), "é")
        XCTAssertEqual(BertNormalizer(lowercase: false).normalize("É"), "É")
        // HF order: NFD and strip before lowercase, so İ becomes plain i.
        XCTAssertEqual(BertNormalizer().normalize("İ"), "i")
        XCTAssertEqual(BertNormalizer(stripAccents: false, lowercase: true).normalize("İ"), "i\u{307}")
    }

    func testChineseCharactersAreSpacedOut() throws {
        let t = try tinyTokenizer()
        XCTAssertEqual(pieces(t, "hello中国world"), ["[CLS]", "hello", "中", "国", "world", "[SEP]"])
        XCTAssertEqual(BertNormalizer().normalize("a中b"), "a 中 b")
        // Hiragana is not a CJK ideograph: no spaces.
        XCTAssertEqual(BertNormalizer().normalize("aあb"), "aあb")
    }

    func testPunctuationSplitting() throws {
        let t = try tinyTokenizer()
        XCTAssertEqual(pieces(t, "hello,world!"), ["[CLS]", "hello", ",", "world", "!", "[SEP]"])
        XCTAssertEqual(pieces(t, "world's"), ["[CLS]", "world", "'", "s", "[SEP]"])
        XCTAssertEqual(pieces(t, "x-x"), ["[CLS]", "x", "-", "x", "[SEP]"])
        // ASCII symbols count as punctuation; Unicode P* too; Unicode symbols (S*) do not.
        for c in ["$", "+", "<", "=", "^", "`", "|", "~", "«", "¿", "—", "、"] {
            XCTAssertTrue(BertNormalizer.isPunctuation(c.unicodeScalars.first!.value), c)
        }
        for c in ["€", "©", "a", "1", " "] {
            XCTAssertFalse(BertNormalizer.isPunctuation(c.unicodeScalars.first!.value), c)
        }
    }

    func testCleanText() throws {
        XCTAssertEqual(BertNormalizer().normalize("a\u{0}b\u{FFFD}c\u{200B}d\u{7}e"), "abcde")
        XCTAssertEqual(BertNormalizer().normalize("a\tb\nc\u{A0}d\u{3000}e"), "a b c d e")
        // VT, FF and NEL are controls before they are whitespace: dropped, joining words (as HF).
        XCTAssertEqual(BertNormalizer().normalize("a\u{0B}b\u{0C}c\u{85}d"), "abcd")
    }

    func testSpecialTokenInText() throws {
        let t = try tinyTokenizer()
        XCTAssertEqual(t.encode("hello [MASK] world", maxLength: 64).ids, [2, 5, 4, 6, 3])
        XCTAssertEqual(t.encode("hello[MASK]world", maxLength: 64).ids, [2, 5, 4, 6, 3])
        // Matching is exact: lowercase "[mask]" is ordinary text.
        XCTAssertEqual(pieces(t, "[mask]"), ["[CLS]", "[", "mask", "]", "[SEP]"])
        XCTAssertEqual(pieces(t, "[MASK"), ["[CLS]", "[", "mask", "[SEP]"])
        XCTAssertEqual(t.encode("[CLS][SEP]", maxLength: 64).ids, [2, 2, 3, 3])
    }

    func testTruncationKeepsFinalSep() throws {
        let t = try tinyTokenizer()
        let (ids, truncated) = t.encode("hello world hello world hello", maxLength: 5)
        XCTAssertEqual(ids, [2, 5, 6, 5, 3])
        XCTAssertTrue(truncated)
        let fits = t.encode("hello world hello", maxLength: 5)
        XCTAssertEqual(fits.ids, [2, 5, 6, 5, 3])
        XCTAssertFalse(fits.truncated)
        // A cut inside a word's pieces.
        XCTAssertEqual(t.encode("unaffable", maxLength: 4).ids, [2, 7, 8, 3])
        XCTAssertEqual(t.encode("hello", maxLength: 2).ids, [2, 3])
        XCTAssertTrue(t.encode("hello", maxLength: 2).truncated)
    }

    func testTokensAndVocabulary() throws {
        let t = try tinyTokenizer()
        XCTAssertEqual(t.vocabularySize, Self.vocabulary.count)
        XCTAssertEqual(t.padTokenId, 0)
        XCTAssertEqual(t.tokens([5, 99, -1]), ["hello", "<invalid id 99>", "<invalid id -1>"])
        XCTAssertEqual(t.id(of: "##aff"), 8)
        XCTAssertNil(t.id(of: "zzz"))
    }

    func testUnsupportedModelType() throws {
        XCTAssertThrowsError(try tinyTokenizer(modelType: "BPE")) { error in
            XCTAssertTrue(error is TokenizerError)
            XCTAssertTrue("\(error)".contains("tokenizer.json: model type 'BPE' is not supported for encoders"), "\(error)")
        }
        XCTAssertThrowsError(try tinyTokenizer(normalizer: ["type": "NFKC"])) { error in
            XCTAssertTrue("\(error)".contains("normalizer type 'NFKC' is not supported"), "\(error)")
        }
    }

    func testBadFiles() throws {
        let u = directory.appendingPathComponent("tokenizer.json")
        for bad in ["", "not json", "[1]", #"{"model":{"type":"WordPiece","vocab":{}}}"#,
                    #"{"model":{"type":"WordPiece","vocab":{"a":-1}},"pre_tokenizer":{"type":"BertPreTokenizer"}}"#,
                    #"{"model":{"type":"WordPiece","vocab":{"a":0}},"pre_tokenizer":{"type":"BertPreTokenizer"}}"#] {
            try Data(bad.utf8).write(to: u)
            XCTAssertThrowsError(try WordPieceTokenizer(url: u), bad) { error in
                XCTAssertTrue("\(error)".contains("tokenizer.json"), "\(error)")
            }
        }
        XCTAssertThrowsError(try WordPieceTokenizer(url: directory.appendingPathComponent("absent.json")))
    }
}
