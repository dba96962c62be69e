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

    /// Plain lines (the fast path) and lines with escapes, fractions or other values (the
    /// Foundation path) give the same kind of document: id as written, text, every string and
    /// number field (numbers as Double).
    func testFlatAndFullLinesGiveTheSameDocuments() throws {
        func check(_ line: String, lineNumber: Int = 1, id: String, text: String, strings: [String: String], numbers: [String: Double],
                   file: StaticString = #filePath, lineNo: UInt = #line) throws {
            let doc = try parse(line, line: lineNumber).get()
            XCTAssertEqual(doc.id.json, id, file: file, line: lineNo)
            XCTAssertEqual(doc.text, text, file: file, line: lineNo)
            XCTAssertEqual(doc.fields.compactMapValues { $0 as? String }, strings, file: file, line: lineNo)
            XCTAssertEqual(doc.fields.compactMapValues { $0 as? Double }, numbers, file: file, line: lineNo)
            XCTAssertEqual(doc.fields.count, strings.count + numbers.count, file: file, line: lineNo)
        }
        try check(#"{"id":42,"text":"héllo wörld","n":7,"tag":"a"}"#, id: "42", text: "héllo wörld",
                  strings: ["text": "héllo wörld", "tag": "a"], numbers: ["id": 42, "n": 7])
        try check(#" { "id" : "x-1" , "text" : "t" } "#, id: #""x-1""#, text: "t", strings: ["id": "x-1", "text": "t"], numbers: [:])
        try check(#"{"text":"no id","k":-12}"#, lineNumber: 5, id: "5", text: "no id", strings: ["text": "no id"], numbers: ["k": -12])
        try check(#"{"id":0,"text":""}"#, id: "0", text: "", strings: ["text": ""], numbers: ["id": 0])
        // The full path: escapes, fractions, booleans and nesting.
        try check(#"{"id":"q\"u","text":"a\nb","x":1.5,"ok":true,"o":{"a":1}}"#, id: #""q\"u""#, text: "a\nb",
                  strings: ["id": "q\"u", "text": "a\nb"], numbers: ["x": 1.5, "ok": 1])
        try check(#"{"id":7,"text":"t","big":12345678901234567}"#, id: "7", text: "t", strings: ["text": "t"],
                  numbers: ["id": 7, "big": 12345678901234567])
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
