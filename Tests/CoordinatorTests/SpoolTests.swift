import Coordinator
import Foundation
import XCTest

final class SpoolTests: XCTestCase {
    func testCutsByDocumentCount() throws {
        let paths = JobPaths(dataDirectory: try makeDataDirectory(self))
        let input = makeInput(count: 1000, lineBytes: 40)
        let (cuts, docs) = try spool(input, paths: paths, jobId: "j1", shardSize: 256, shardTokens: 1_000_000)
        XCTAssertEqual(docs, 1000)
        XCTAssertEqual(cuts.map(\.documentCount), [256, 256, 256, 232])
        XCTAssertEqual(cuts.map(\.firstLine), [1, 257, 513, 769])
        XCTAssertEqual(cuts.map(\.byteOffset), [0, 10_496, 20_992, 31_488])  // 41-byte lines
        XCTAssertEqual(cuts.map(\.byteLength), [10_496, 10_496, 10_496, 9_512])
        XCTAssertEqual(cuts.map(\.approxTokens), [2560, 2560, 2560, 2320])
        XCTAssertEqual(try Data(contentsOf: paths.input("j1")), input)
    }

    func testCutsByTokens() throws {
        let paths = JobPaths(dataDirectory: try makeDataDirectory(self))
        // 40-byte lines are 10 tokens each: 3 fit under 35 tokens, a 4th would not.
        let input = makeInput(count: 10, lineBytes: 40)
        let (cuts, _) = try spool(input, paths: paths, jobId: "j1", shardSize: 256, shardTokens: 35)
        XCTAssertEqual(cuts.map(\.documentCount), [3, 3, 3, 1])
        XCTAssertEqual(cuts.map(\.approxTokens), [30, 30, 30, 10])
        XCTAssertEqual(cuts.map(\.firstLine), [1, 4, 7, 10])
    }

    func testLongDocumentIsAShardOfItsOwn() throws {
        let paths = JobPaths(dataDirectory: try makeDataDirectory(self))
        var input = makeInput(count: 2, lineBytes: 40)
        input += makeInput(count: 1, lineBytes: 400, idPrefix: "long")  // 100 tokens > 64
        input += makeInput(count: 2, lineBytes: 40, idPrefix: "tail")
        let (cuts, docs) = try spool(input, paths: paths, jobId: "j1", shardSize: 256, shardTokens: 64)
        XCTAssertEqual(docs, 5)
        XCTAssertEqual(cuts.map(\.documentCount), [2, 1, 2])
        XCTAssertEqual(cuts.map(\.approxTokens), [20, 100, 20])
    }

    func testChunkBoundariesDoNotChangeTheCuts() throws {
        let input = makeInput(count: 100, lineBytes: 37)
        let dir = try makeDataDirectory(self)
        let whole = try spool(input, paths: JobPaths(dataDirectory: dir), jobId: "a", shardSize: 7, shardTokens: 50)
        let tiny = try spool(input, paths: JobPaths(dataDirectory: dir), jobId: "b", shardSize: 7, shardTokens: 50, chunkBytes: 5)
        XCTAssertEqual(whole.cuts, tiny.cuts)
        // 37 bytes → 10 tokens; 5 docs fit under 50, so the token limit cuts before the doc limit (7).
        XCTAssertEqual(whole.cuts.count, 20)
        XCTAssertEqual(Set(whole.cuts.map(\.documentCount)), [5])
    }

    func testBlankLinesAndUnterminatedLastLine() throws {
        let paths = JobPaths(dataDirectory: try makeDataDirectory(self))
        let input = Data("{\"id\":1}\n\n   \n{\"id\":2}\r\n{\"id\":3}".utf8)
        let (cuts, docs) = try spool(input, paths: paths, jobId: "j", shardSize: 2, shardTokens: 1000, chunkBytes: 3)
        XCTAssertEqual(docs, 3)
        XCTAssertEqual(cuts.map(\.documentCount), [2, 1])
        XCTAssertEqual(cuts.map(\.firstLine), [1, 5])
        let raw0 = try ShardReader.read(cuts[0], jobId: "j", paths: paths)
        XCTAssertEqual(String(decoding: raw0, as: UTF8.self), "{\"id\":1}\n\n   \n{\"id\":2}\r\n")
        let docs0 = ShardReader.documents(in: raw0, cut: cuts[0])
        XCTAssertEqual(docs0.map(\.line), [1, 4])
        XCTAssertEqual(String(decoding: ShardReader.payload(raw0, cut: cuts[0]), as: UTF8.self),
                       "{\"id\":1}\n{\"id\":2}\r\n")
        let raw1 = try ShardReader.read(cuts[1], jobId: "j", paths: paths)
        XCTAssertEqual(String(decoding: ShardReader.payload(raw1, cut: cuts[1]), as: UTF8.self), "{\"id\":3}\n")
    }

    func testHalvesCutAtDocumentBoundaries() throws {
        let paths = JobPaths(dataDirectory: try makeDataDirectory(self))
        let input = makeInput(count: 5, lineBytes: 40)
        let (cuts, _) = try spool(input, paths: paths, jobId: "j", shardSize: 256, shardTokens: 100_000)
        let raw = try ShardReader.read(cuts[0], jobId: "j", paths: paths)
        let (a, b) = try XCTUnwrap(ShardReader.halves(of: cuts[0], documents: ShardReader.documents(in: raw, cut: cuts[0])))
        XCTAssertEqual(a, ShardCut(firstLine: 1, byteOffset: 0, byteLength: 82, documentCount: 2, approxTokens: 20))
        XCTAssertEqual(b, ShardCut(firstLine: 3, byteOffset: 82, byteLength: 123, documentCount: 3, approxTokens: 30))
        let rawB = try ShardReader.read(b, jobId: "j", paths: paths)
        XCTAssertEqual(ShardReader.documents(in: rawB, cut: b).map(\.line), [3, 4, 5])
    }

    /// A million queued documents cost disk, not memory: spooling them grows the process by far
    /// less than 200 MB.
    func testMillionDocumentsStayOutOfMemory() throws {
        let dir = try makeDataDirectory(self)
        let paths = JobPaths(dataDirectory: dir)
        let store = try JobStore(directory: dir, nowMs: 0)
        let job = try store.createJob(name: "big", spec: JobSpec(task: "noop"), specData: Data("{}".utf8), nowMs: 0)
        let before = residentBytes()
        let writer = try SpoolWriter(paths: paths, jobId: job.id, shardSize: 256, shardTokens: 131_072)
        let block = makeInput(count: 10_000, lineBytes: 48)
        var shards = 0
        for _ in 0..<100 {
            let cuts = try writer.append(block)
            shards += try store.appendShards(jobId: job.id, cuts: cuts).count
        }
        shards += try store.appendShards(jobId: job.id, cuts: try writer.finish()).count
        _ = try store.completeInput(jobId: job.id, documents: writer.documentCount, inputBytes: writer.bytesWritten, nowMs: 1)
        let grown = residentBytes() - before
        XCTAssertEqual(writer.documentCount, 1_000_000)
        XCTAssertEqual(shards, 3907)  // ⌈1,000,000 / 256⌉
        XCTAssertLessThan(grown, 200 << 20, "spooling 1M documents grew the process by \(grown >> 20) MB")
    }
}

/// The process's resident set (Linux /proc), 0 where unknown.
func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return 0
}
