import DomainTasks
import Foundation
import Kernels
import Wire
import Worker
import XCTest

final class ShardRunnerTests: XCTestCase {
    private func run(_ lines: String, firstLine: UInt64) throws -> (ShardResult, String) {
        let runner = ShardRunner(models: CachingModelProvider(pool: ThreadPool(threads: 1)))
        let assignment = Assignment(jobId: "j1", shardId: 3, attemptId: 9, leaseDeadlineMs: 0,
                                    taskSpec: Data(#"{"task":"noop"}"#.utf8), documentCount: 4,
                                    documents: try LZ4Frame.compress(Data(lines.utf8)), firstLine: firstLine)
        let outcome = runner.run(assignment)
        guard case .success(let result) = outcome else { throw NSError(domain: "shard failed: \(outcome)", code: 1) }
        let text = String(decoding: try LZ4Frame.decompress(result.frame, maxOutputBytes: 1 << 20), as: UTF8.self)
        return (result, text)
    }

    /// One record per line in input order, a bad line an error record naming its input line, and
    /// the last line read whether or not it ends in a newline.
    func testEveryLineGivesOneRecordInOrder() throws {
        let (result, text) = try run("{\"id\":7,\"text\":\"a\"}\nnot json\n{\"id\":\"x\",\"text\":\"b\"}\n{\"id\":8,\"text\":\"c\"}",
                                     firstLine: 10)
        let records = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(records.count, 5, "four records, each ending in a newline")
        XCTAssertEqual(records[0], #"{"id":7}"#)
        XCTAssertTrue(records[1].hasPrefix(#"{"line":11,"error":"#), String(records[1]))
        XCTAssertEqual(records[2], #"{"id":"x"}"#)
        XCTAssertEqual(records[3], #"{"id":8}"#)
        XCTAssertEqual(records[4], "")
        XCTAssertEqual(result.documentCount, 4)
        XCTAssertEqual(result.errorCount, 1)
        XCTAssertEqual(result.rawBytes, UInt64(text.utf8.count))
        XCTAssertEqual([result.jobId, "\(result.shardId)", "\(result.attemptId)"], ["j1", "3", "9"])
    }

    /// A line holding a multi-byte character or a newline escaped inside a string stays one line.
    func testLinesSplitOnlyAtRawNewlines() throws {
        let (result, text) = try run("{\"id\":1,\"text\":\"caf\u{e9} \\n two\"}\n{\"id\":2,\"text\":\"\u{1F600}\"}\n", firstLine: 1)
        XCTAssertEqual(text, "{\"id\":1}\n{\"id\":2}\n")
        XCTAssertEqual(result.errorCount, 0)
    }
}
