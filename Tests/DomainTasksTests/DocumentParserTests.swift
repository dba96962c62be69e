import DomainTasks
import Foundation
import XCTest

final class DocumentParserTests: XCTestCase {
    func parse(_ s: String, line: Int = 1) -> Result<Document, DocumentError> {
        DocumentParser.parse(Data(s.utf8), lineNumber: line)
    }

    func testStringAndNumberIdsComeBackAsTheyWere() throws {
        XCTAssertEqual(try parse(#"{"id":"a-1","text":"x"}"#).get().id.json, #""a-1""#)
        XCTAssertEqual(try parse(#"{"id":42,"text":"x"}"#).get().id.json, "42")
        XCTAssertEqual(try parse(#"{"id":"q\"uote","text":"x"}"#).get().id.json, #""q\"uote""#)
        XCTAssertEqual(try parse(#"{"text":"no id"}"#, line: 9).get().id.json, "9")
    }

    func testBadLinesNameTheLineAndTheProblem() {
        guard case .failure(let notJSON) = parse("nope", line: 3) else { return XCTFail() }
        XCTAssertEqual(notJSON.record, #"{"line":3,"error":"line is not valid JSON; expected {\"id\": …, \"text\": \"…\"}"}"#)
        guard case .failure(let noText) = parse(#"{"id":"d","body":"x"}"#) else { return XCTFail() }
        XCTAssertEqual(noText.record, #"{"id":"d","error":"line has no \"text\" field"}"#)
        guard case .failure(let notString) = parse(#"{"id":5,"text":12}"#) else { return XCTFail() }
        XCTAssertEqual(notString.record, #"{"id":5,"error":"line \"text\" is not a string"}"#)
        guard case .failure(let array) = parse("[1,2]", line: 4) else { return XCTFail() }
        XCTAssertTrue(array.record.hasPrefix(#"{"line":4,"#))
        guard case .failure(let badID) = parse(#"{"id":true,"text":"x"}"#) else { return XCTFail() }
        XCTAssertTrue(badID.message.contains("id"))
    }

    func testInvalidUTF8IsAnErrorRecord() {
        let bytes = Data([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d])
        guard case .failure(let e) = DocumentParser.parse(bytes, lineNumber: 2) else { return XCTFail() }
        XCTAssertTrue(e.message.contains("UTF-8"))
    }

    func testLineReaderSplitsChunksAndKeepsLineNumbers() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lines-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        let long = String(repeating: "x", count: 100_000)
        try "a\r\nbb\n\n\(long)\nlast".write(to: url, atomically: true, encoding: .utf8)
        let reader = LineReader(handle: try FileHandle(forReadingFrom: url), chunkSize: 7)
        var lines: [String] = []
        while let l = reader.next() { lines.append(String(decoding: l, as: UTF8.self)) }
        XCTAssertEqual(lines, ["a", "bb", "", long, "last"])
        XCTAssertEqual(reader.lineNumber, 5)
    }

    func testJSONTextEscapesAndFloats() {
        XCTAssertEqual(JSONText.quote("a\"b\\c\n\u{1}é"), "\"a\\\"b\\\\c\\n\\u0001é\"")
        XCTAssertEqual(JSONText.floats([1, -0.5, 0.1, .nan] as [Float]), "[1.0,-0.5,0.1,null]")
        XCTAssertEqual(JSONText.ints([101, 102] as [Int32]), "[101,102]")
    }
}
