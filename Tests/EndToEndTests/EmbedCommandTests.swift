import Foundation
import TestSupport
import XCTest

/// `dojo embed` and `dojo tokenize` as a user runs them: the real binary, the real model.
final class EmbedCommandTests: XCTestCase {
    func json(_ line: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
    }

    func testEveryInputLineGetsOneOutputLineInOrderAndBadLinesBecomeErrorRecords() throws {
        var input = Data()
        input.append(Data(#"{"id": "a", "text": "Either party may terminate this Agreement."}"#.utf8 + [10]))
        input.append(Data("this is not json\n".utf8))
        input.append(Data(#"{"id": 7, "title": "no text field"}"#.utf8 + [10]))
        input.append(Data([0x7b, 0x22, 0x69, 0x64, 0x22, 0x3a, 0x31, 0x2c, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 10]))
        let long = String(repeating: "indemnify ", count: 100_000)  // a 1 MB line
        input.append(Data(#"{"id": "long", "text": "\#(long)"}"#.utf8 + [10]))
        input.append(Data(#"{"id": 12, "text": ""}"#.utf8 + [10]))
        let result = try ProcessRunner.dojo(["embed", "--model", "minilm", "--threads", "2"], input: input)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.lines.map(json)
        XCTAssertEqual(lines.count, 6)
        XCTAssertEqual(lines[0]["id"] as? String, "a")
        XCTAssertEqual((lines[0]["embedding"] as? [Double])?.count, 384)
        XCTAssertEqual(lines[1]["line"] as? Int, 2)
        XCTAssertNotNil(lines[1]["error"])
        XCTAssertEqual(lines[2]["id"] as? Int, 7)
        XCTAssertTrue((lines[2]["error"] as? String ?? "").contains("text"))
        XCTAssertEqual(lines[3]["line"] as? Int, 4)
        XCTAssertTrue((lines[3]["error"] as? String ?? "").contains("UTF-8"))
        XCTAssertEqual(lines[4]["id"] as? String, "long")
        XCTAssertEqual((lines[4]["embedding"] as? [Double])?.count, 384)
        XCTAssertEqual(lines[5]["id"] as? Int, 12)
        XCTAssertEqual((lines[5]["embedding"] as? [Double])?.count, 384)
    }

    func testReferenceSentencesFromAFileMatchSentenceTransformers() throws {
        let input = TestPaths.reference.appendingPathComponent("minilm/sentences.jsonl").path
        let result = try ProcessRunner.dojo(["embed", "--model", "minilm", "--input", input, "--batch", "16"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let reference = try Npy.readFloat32(TestPaths.reference.appendingPathComponent("minilm/embeddings.npy"))
        let lines = result.lines.map(json)
        XCTAssertEqual(lines.count, 64)
        for (i, line) in lines.enumerated() {
            let v = (line["embedding"] as? [Double] ?? []).map(Float.init)
            XCTAssertGreaterThanOrEqual(Tolerance.cosine(v, reference.row(i)), Tolerance.embeddingCosine, "sentence \(i)")
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(v, reference.row(i)), Tolerance.embeddingMaxAbs, "sentence \(i)")
        }
    }

    func testNpyOutputHoldsTheMatrixAndAnIdsFile() throws {
        let dir = TinyBert.temporaryDirectory("npy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("e.npy")
        let input = #"{"id":"x","text":"Governing law is Delaware."}"# + "\nnot json\n" + #"{"id":"y","text":"Notice period is thirty days."}"#
        let result = try ProcessRunner.dojo(["embed", "--model", "minilm", "--format", "npy", "--output", out.path], input: Data(input.utf8))
        XCTAssertEqual(result.status, 0, result.stderr)
        let matrix = try Npy.readFloat32(out)
        XCTAssertEqual(matrix.rows, 2)
        XCTAssertEqual(matrix.cols, 384)
        XCTAssertEqual(matrix.row(0).reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-4)
        let ids = try String(contentsOf: URL(fileURLWithPath: out.path + ".ids.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { json(String($0)) }
        XCTAssertEqual(ids.count, 3)
        XCTAssertEqual(ids[0]["row"] as? Int, 0)
        XCTAssertNotNil(ids[1]["error"])
        XCTAssertEqual(ids[2]["id"] as? String, "y")
        XCTAssertEqual(ids[2]["row"] as? Int, 1)
    }

    func testEmptyInputGivesNoOutputAndSucceeds() throws {
        let result = try ProcessRunner.dojo(["embed", "--model", "minilm"], input: Data())
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout.count, 0)
    }

    func testMissingModelFailsWithOneClearMessage() throws {
        let result = try ProcessRunner.dojo(["embed", "--model", "/nonexistent/encoder"], input: Data("{}\n".utf8))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("/nonexistent/encoder"), result.stderr)
        XCTAssertTrue(result.stderr.contains("ops/setup"), result.stderr)
    }

    func testUnreadableInputFails() throws {
        let result = try ProcessRunner.dojo(["embed", "--model", "minilm", "--input", "/nonexistent/input.jsonl"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("/nonexistent/input.jsonl"), result.stderr)
    }

    func testTokenizeGivesTheReferenceIds() throws {
        let input = TestPaths.reference.appendingPathComponent("minilm/sentences.jsonl").path
        let result = try ProcessRunner.dojo(["tokenize", "--model", "minilm", "--input", input])
        XCTAssertEqual(result.status, 0, result.stderr)
        let reference = try String(contentsOf: TestPaths.reference.appendingPathComponent("minilm/tokens.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { json(String($0)) }
        let lines = result.lines.map(json)
        XCTAssertEqual(lines.count, reference.count)
        for (got, want) in zip(lines, reference) {
            XCTAssertEqual(got["id"] as? String, want["id"] as? String)
            XCTAssertEqual(got["ids"] as? [Int], want["input_ids"] as? [Int])
        }
    }
}
