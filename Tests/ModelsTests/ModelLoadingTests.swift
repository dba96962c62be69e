import Foundation
import Models
import TestSupport
import XCTest

/// Bad model directories give one clear message naming the file and the fix.
final class ModelLoadingTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TinyBert.temporaryDirectory("load") }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    func testMissingDirectory() {
        let m = message { _ = try SentenceEncoder(directory: directory.appendingPathComponent("nope")) }
        XCTAssertTrue(m.contains("nope") && m.contains("config.json"), m)
    }

    func testMissingWeights() throws {
        try TinyBert.write(to: directory)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("model.safetensors"))
        let m = message { _ = try SentenceEncoder(directory: directory) }
        XCTAssertTrue(m.contains("model.safetensors"), m)
    }

    func testTruncatedWeights() throws {
        try TinyBert.write(to: directory)
        let url = directory.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        let m = message { _ = try SentenceEncoder(directory: directory) }
        XCTAssertTrue(m.contains("model.safetensors"), m)
    }

    func testWrongShapeNamesTheTensor() throws {
        try TinyBert.write(to: directory)
        // A config that claims a wider model than the weights hold.
        var config = TinyBert.config()
        config.intermediateSize = 48
        let other = TinyBert.temporaryDirectory("cfg")
        try TinyBert.write(to: other, config: config)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("config.json"))
        try FileManager.default.copyItem(at: other.appendingPathComponent("config.json"), to: directory.appendingPathComponent("config.json"))
        let m = message { _ = try SentenceEncoder(directory: directory) }
        XCTAssertTrue(m.contains("encoder.layer.0.intermediate.dense.weight"), m)
        XCTAssertTrue(m.contains("48") && m.contains("32"), m)
    }

    func testUnsupportedArchitectureNamesTheKey() throws {
        try TinyBert.write(to: directory, config: BertConfig(modelType: "gpt2", vocabSize: 16, hiddenSize: 16, layers: 1,
                                                             heads: 2, intermediateSize: 32, maxPositions: 64))
        let m = message { _ = try SentenceEncoder(directory: directory) }
        XCTAssertTrue(m.contains("model_type") && m.contains("gpt2"), m)
    }

    func testUnsupportedTokenizerKind() throws {
        try TinyBert.write(to: directory)
        try Data(#"{"model": {"type": "BPE", "vocab": {}, "merges": []}}"#.utf8).write(to: directory.appendingPathComponent("tokenizer.json"))
        let m = message { _ = try SentenceEncoder(directory: directory) }
        XCTAssertTrue(m.contains("tokenizer.json") && m.contains("BPE"), m)
    }

    func testHalfPrecisionCheckpointsLoad() throws {
        for dtype in [TensorDType.f16, .bf16] {
            let dir = directory.appendingPathComponent(dtype.rawValue)
            try TinyBert.write(to: dir, dtype: dtype)
            let encoder = try SentenceEncoder(directory: dir)
            let v = encoder.embed(["the party shall pay"], pool: .init(threads: 1))[0]
            XCTAssertEqual(v.count, 16)
            XCTAssertEqual(v.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-4)
        }
    }

    func testRegistryNamesAndPaths() throws {
        XCTAssertEqual(try ModelRegistry.resolve(directory.path).path, directory.path)
        let m = message { _ = try ModelRegistry.resolve("no-such-model") }
        XCTAssertTrue(m.contains("no-such-model") && m.contains("ops/setup"), m)
    }
}
