import Coordinator
import Foundation
import XCTest

/// A fresh data directory under the system temp dir, removed when the test ends.
func makeDataDirectory(_ test: XCTestCase, _ name: String = #function) throws -> URL {
    let safe = name.filter { $0.isLetter || $0.isNumber }
    let dir = FileManager.default.temporaryDirectory
        .appendingPathComponent("dojo-coord-\(safe)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}

/// `count` JSONL documents `{"id":"d<i>","text":"…"}`, ids from 1, each line exactly `lineBytes`
/// bytes long before its newline (padding the text with `x`).
func makeInput(count: Int, lineBytes: Int = 40, idPrefix: String = "d") -> Data {
    var out = Data()
    for i in 1...max(count, 1) where count > 0 {
        let head = "{\"id\":\"\(idPrefix)\(i)\",\"text\":\""
        let tail = "\"}"
        let pad = max(0, lineBytes - head.utf8.count - tail.utf8.count)
        out.append(contentsOf: Array((head + String(repeating: "x", count: pad) + tail + "\n").utf8))
    }
    return out
}

/// Spools `input` for a job in chunks of `chunkBytes` and returns every cut, in order.
func spool(_ input: Data, paths: JobPaths, jobId: String, shardSize: Int, shardTokens: Int,
           chunkBytes: Int = 1 << 16) throws -> (cuts: [ShardCut], documents: UInt64) {
    let writer = try SpoolWriter(paths: paths, jobId: jobId, shardSize: shardSize, shardTokens: shardTokens)
    var cuts: [ShardCut] = []
    var offset = 0
    while offset < input.count {
        let end = min(input.count, offset + chunkBytes)
        cuts += try writer.append(input.subdata(in: offset..<end))
        offset = end
    }
    cuts += try writer.finish()
    return (cuts, writer.documentCount)
}
