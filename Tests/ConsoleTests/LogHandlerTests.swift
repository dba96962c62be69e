import Console
import Foundation
import Logging
import XCTest

final class LogHandlerTests: XCTestCase {
    let ts: Int64 = 1_795_442_400_123  // 2026-11-23T14:00:00.123Z

    func testTimestampIsUTCWithMilliseconds() {
        XCTAssertEqual(DojoLogHandler.timestamp(ms: ts), "2026-11-23T14:00:00.123Z")
        XCTAssertEqual(DojoLogHandler.timestamp(ms: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(DojoLogHandler.timestamp(ms: 951_782_400_007), "2000-02-29T00:00:00.007Z")
    }

    func testTextLineSortsMetadataAndQuotesValuesWithSpaces() {
        let line = DojoLogHandler.line(format: .text, timestampMs: ts, level: .info, label: "dojo.coordinator",
                                       message: "shard assigned",
                                       metadata: ["worker": "w1", "job": "j000001", "shard": "3", "reason": "worker went silent",
                                                  "empty": ""])
        XCTAssertEqual(line, #"2026-11-23T14:00:00.123Z info dojo.coordinator: shard assigned empty="" job=j000001 reason="worker went silent" shard=3 worker=w1"#)
    }

    func testJSONLineHasTheFieldsInAFixedOrderAndParses() throws {
        let line = DojoLogHandler.line(format: .json, timestampMs: ts, level: .warning, label: "dojo.worker",
                                       message: "shard \"3\" failed\n", metadata: ["job": "j000001", "shard": "3", "tags": ["a", "b"]])
        XCTAssertEqual(line, #"{"ts":"2026-11-23T14:00:00.123Z","level":"warning","label":"dojo.worker","message":"shard \"3\" failed\n","metadata":{"job":"j000001","shard":"3","tags":["a","b"]}}"#)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(object["message"] as? String, "shard \"3\" failed\n")
        XCTAssertEqual((object["metadata"] as? [String: Any])?["job"] as? String, "j000001")
    }

    func testControlCharactersAreEscapedInJSON() {
        let line = DojoLogHandler.line(format: .json, timestampMs: 0, level: .error, label: "l", message: "a\u{1}b\tc",
                                       metadata: [:])
        XCTAssertEqual(line, #"{"ts":"1970-01-01T00:00:00.000Z","level":"error","label":"l","message":"a\u0001b\tc","metadata":{}}"#)
    }

    func testHandlerWritesOneLinePerEventAtOrAboveItsLevel() throws {
        let pipe = Pipe()
        let fd = pipe.fileHandleForWriting.fileDescriptor
        var logger = Logger(label: "dojo.test") { DojoLogHandler(label: $0, level: .notice, format: .json, fd: fd) }
        logger[metadataKey: "worker"] = "w1"
        logger.info("not shown")
        logger.notice("shown", metadata: ["job": "j000002"])
        logger.error("also shown", metadata: ["worker": "w2"])
        try pipe.fileHandleForWriting.close()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2)
        let objects = try lines.map { try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        XCTAssertEqual(objects.map { $0["message"] as? String }, ["shown", "also shown"])
        XCTAssertEqual(objects.map { $0["level"] as? String }, ["notice", "error"])
        XCTAssertEqual(objects.map { $0["label"] as? String }, ["dojo.test", "dojo.test"])
        XCTAssertEqual(objects[0]["metadata"] as? [String: String], ["job": "j000002", "worker": "w1"])
        // Metadata given with the event wins over the logger's.
        XCTAssertEqual(objects[1]["metadata"] as? [String: String], ["worker": "w2"])
    }
}
