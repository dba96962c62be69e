import Foundation
import TestSupport
import XCTest

/// `dojo generate` and `dojo tokenize` on the real SmolLM2 GGUF, as a user runs them (few tokens: lean).
final class GenerateCommandTests: XCTestCase {
    func json(_ line: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
    }

    func testOneOutputLinePerInputLineInOrderWithErrorRecords() throws {
        let long = String(repeating: "The lessee shall indemnify the lessor. ", count: 20)  // ~160 tokens
        let input = [
            #"{"id": "a", "prompt": "The tenant shall pay rent on the first day of each month. If the tenant fails to pay"}"#,
            "this is not json",
            #"{"id": "long", "prompt": "\#(long)"}"#,
            #"{"id": 7, "text": "no prompt field"}"#,
            #"{"id": 2, "prompt": "Question: What is the capital of France?\nAnswer:"}"#,
        ].joined(separator: "\n") + "\n"
        let result = try ProcessRunner.dojo(["generate", "--model", "smollm2", "--max-tokens", "6", "--parallel", "2",
                                             "--context", "64", "--threads", "2"], input: Data(input.utf8))
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.lines.map(json)
        XCTAssertEqual(lines.count, 5)
        XCTAssertEqual(lines[0]["id"] as? String, "a")
        // llama.cpp's greedy continuation starts " the rent on the first day"
        XCTAssertEqual(lines[0]["token_ids"] as? [Int], [260, 10451, 335, 260, 808, 1194])
        XCTAssertEqual(lines[0]["text"] as? String, " the rent on the first day")
        XCTAssertEqual(lines[0]["finish"] as? String, "length")
        XCTAssertEqual(lines[1]["line"] as? Int, 2)
        XCTAssertNotNil(lines[1]["error"])
        XCTAssertEqual(lines[2]["id"] as? String, "long")
        XCTAssertTrue((lines[2]["error"] as? String ?? "").contains("context"), "\(lines[2])")
        XCTAssertEqual(lines[3]["id"] as? Int, 7)
        XCTAssertTrue((lines[3]["error"] as? String ?? "").contains("prompt"))
        // c stops at once on <|im_end|>, as llama.cpp does
        XCTAssertEqual(lines[4]["id"] as? Int, 2)
        XCTAssertEqual(lines[4]["token_ids"] as? [Int], [])
        XCTAssertEqual(lines[4]["finish"] as? String, "stop")
    }

    func testChatMessagesUseTheModelsTemplate() throws {
        let input = #"{"id": "q", "messages": [{"role": "user", "content": "What is the capital of France?"}]}"# + "\n"
            + #"{"id": "bad", "messages": "not a list"}"# + "\n"
        let result = try ProcessRunner.dojo(["generate", "--model", "smollm2", "--chat", "--max-tokens", "12", "--threads", "2"],
                                            input: Data(input.utf8))
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.lines.map(json)
        XCTAssertEqual(lines.count, 2)
        // What llama.cpp answers too (llama-cli -sp --temp 0 -n 12 on the same ChatML text): the
        // 135M model does not know, and Dojo reproduces llama.cpp's arithmetic.
        XCTAssertEqual(lines[0]["text"] as? String, "L'Étoile, la Cité, la Nation", "\(lines[0])")
        XCTAssertEqual(lines[0]["finish"] as? String, "length")
        XCTAssertEqual(lines[1]["id"] as? String, "bad")
        XCTAssertTrue((lines[1]["error"] as? String ?? "").contains("messages"))
    }

    /// `dojo bench decoder --json --repeat`: one line per measurement with its median and run count.
    func testBenchDecoderReportsEveryMeasurementOverItsRuns() throws {
        let result = try ProcessRunner.dojo(["bench", "decoder", "--model", "smollm2", "--pp", "16", "--tg", "4",
                                             "--parallel", "1,2", "--repeat", "2", "--threads", "2", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.lines.map(json)
        XCTAssertEqual(lines.compactMap { $0["test"] as? String }, ["pp16", "tg4 x1", "tg4 x2", "memory"])
        XCTAssertEqual(lines[0]["runs"] as? Int, 3, "the prompt is timed at least three times")
        for line in lines[1...2] {
            XCTAssertEqual(line["runs"] as? Int, 2, "\(line)")
            XCTAssertGreaterThan(line["aggregate_generated_tokens_per_s"] as? Double ?? 0, 0, "\(line)")
        }
        XCTAssertGreaterThan(lines[3]["peak_rss_mb"] as? Double ?? 0, 50)
    }

    func testTokenizeGGUFGivesLlamaCppIds() throws {
        let input = #"{"id": 1, "text": "Question: What is the capital of France?\nAnswer:"}"# + "\n"
        let result = try ProcessRunner.dojo(["tokenize", "--model", "smollm2"], input: Data(input.utf8))
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(json(result.lines.first ?? "")["ids"] as? [Int], [17872, 42, 1812, 314, 260, 3575, 282, 4649, 47, 198, 21350, 42])
    }

    func testUnknownModelFailsWithOneClearMessage() throws {
        let result = try ProcessRunner.dojo(["generate", "--model", "/nonexistent/model.gguf"], input: Data("{}\n".utf8))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("not found"), result.stderr)
    }
}
