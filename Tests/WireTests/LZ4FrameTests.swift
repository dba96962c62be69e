import Foundation
import Wire
import XCTest

final class LZ4FrameTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wire-lz4-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// JSONL-like text, compressible but not trivially so.
    private func sampleLines(_ count: Int) -> Data {
        var s = ""
        for i in 0 ..< count { s += "{\"id\":\"doc-\(i)\",\"text\":\"clause \(i * 7919 % 1000) of the agreement\"}\n" }
        return Data(s.utf8)
    }

    func testRoundTrip() throws {
        for input in [Data(), Data("x".utf8), sampleLines(10), sampleLines(20_000)] {
            let frame = try LZ4Frame.compress(input)
            XCTAssertEqual(Array(frame.prefix(4)), LZ4Frame.magic)
            XCTAssertEqual(try LZ4Frame.declaredContentSize(of: frame), input.isEmpty ? nil : UInt64(input.count))
            XCTAssertEqual(try LZ4Frame.decompress(frame, maxOutputBytes: input.count), input)
        }
    }

    func testRealCLIReadsOurFrame() throws {
        let input = sampleLines(5_000)
        let url = directory.appendingPathComponent("ours.jsonl.lz4")
        try LZ4Frame.compress(input).write(to: url)
        let output = try run("/usr/bin/env", ["lz4", "-dc", url.path])
        XCTAssertEqual(output, input)
    }

    func testWeReadTheRealCLIFrame() throws {
        let input = sampleLines(5_000)
        let plain = directory.appendingPathComponent("theirs.jsonl")
        let packed = directory.appendingPathComponent("theirs.jsonl.lz4")
        try input.write(to: plain)
        // --content-size records the size; default lz4 also checksums content.
        _ = try run("/usr/bin/env", ["lz4", "-q", "-f", "--content-size", plain.path, packed.path])
        let frame = try Data(contentsOf: packed)
        XCTAssertEqual(try LZ4Frame.decompress(frame, maxOutputBytes: input.count), input)
        // Streamed through stdin the CLI cannot know the size: the header omits it.
        let streamed = try run("/bin/sh", ["-c", "cat '\(plain.path)' | lz4 -q -c"])
        XCTAssertNil(try LZ4Frame.declaredContentSize(of: streamed))
        XCTAssertEqual(try LZ4Frame.decompress(streamed, maxOutputBytes: input.count), input)
    }

    func testConcatenatedFramesDecodeAsOneStream() throws {
        let a = sampleLines(3), b = sampleLines(4)
        let both = try LZ4Frame.compress(a) + LZ4Frame.compress(b)
        XCTAssertEqual(try LZ4Frame.decompress(both, maxOutputBytes: 1 << 20), a + b)
    }

    func testOutputLimitIsEnforced() throws {
        let input = sampleLines(1_000)
        let frame = try LZ4Frame.compress(input)
        XCTAssertThrowsError(try LZ4Frame.decompress(frame, maxOutputBytes: input.count - 1)) { error in
            XCTAssertEqual(error as? LZ4FrameError, .declaredSizeTooLarge(declared: UInt64(input.count), limit: input.count - 1))
        }
        // Without a declared size the limit still holds, checked as output grows.
        let plain = directory.appendingPathComponent("p.jsonl")
        try input.write(to: plain)
        let streamed = try run("/bin/sh", ["-c", "cat '\(plain.path)' | lz4 -q -c"])
        XCTAssertThrowsError(try LZ4Frame.decompress(streamed, maxOutputBytes: 1000)) { error in
            XCTAssertEqual(error as? LZ4FrameError, .outputTooLarge(limit: 1000))
        }
    }

    /// A hostile header claiming 100 GB fails before anything is allocated.
    func testFrameClaiming100GBFailsCleanly() throws {
        var frame = try LZ4Frame.compress(Data("tiny".utf8))
        // Header: magic(4) FLG(1) BD(1) contentSize(8, LE) HC(1). Patch the size and recompute the header
        // checksum, so the header is valid and only the claim is hostile.
        let claimed: UInt64 = 100_000_000_000
        withUnsafeBytes(of: claimed.littleEndian) { frame.replaceSubrange(6 ..< 14, with: $0) }
        frame[14] = headerChecksum(Array(frame[4 ..< 14]))
        XCTAssertThrowsError(try LZ4Frame.decompress(frame, maxOutputBytes: 64 << 20)) { error in
            XCTAssertEqual(error as? LZ4FrameError, .declaredSizeTooLarge(declared: claimed, limit: 64 << 20))
        }
        // With a permissive limit, the lie is caught at the end of the frame (size mismatch), still a typed error.
        XCTAssertThrowsError(try LZ4Frame.decompress(frame, maxOutputBytes: Int.max)) { error in
            XCTAssertNotNil(error as? LZ4FrameError)
        }
    }

    func testCorruptedAndTruncatedFramesThrow() throws {
        let input = sampleLines(2_000)
        let frame = try LZ4Frame.compress(input)
        XCTAssertThrowsError(try LZ4Frame.decompress(Data(), maxOutputBytes: 100)) {
            XCTAssertEqual($0 as? LZ4FrameError, .empty)
        }
        XCTAssertThrowsError(try LZ4Frame.decompress(Data("not an lz4 frame at all".utf8), maxOutputBytes: 100)) {
            guard case .corrupt = $0 as? LZ4FrameError else { return XCTFail("\($0)") }
        }
        // Every truncation is an error, never a crash or a short result.
        for cut in [1, 3, 5, 10, 15, frame.count / 2, frame.count - 5, frame.count - 1] {
            XCTAssertThrowsError(try LZ4Frame.decompress(frame.prefix(cut), maxOutputBytes: input.count), "cut \(cut)") {
                XCTAssertNotNil($0 as? LZ4FrameError)
            }
        }
        // A flipped byte in the compressed body breaks a block or the content checksum.
        for position in stride(from: 20, to: frame.count, by: max(1, frame.count / 17)) {
            var bad = frame
            bad[position] ^= 0x5A
            XCTAssertThrowsError(try LZ4Frame.decompress(bad, maxOutputBytes: input.count), "flip at \(position)") {
                XCTAssertNotNil($0 as? LZ4FrameError)
            }
        }
    }

    // MARK: - helpers

    private func run(_ tool: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(tool) \(arguments) failed")
        return data
    }

    /// LZ4 frame header checksum: second byte of XXH32(descriptor, seed 0).
    private func headerChecksum(_ bytes: [UInt8]) -> UInt8 {
        UInt8((xxh32(bytes, seed: 0) >> 8) & 0xFF)
    }

    private func xxh32(_ input: [UInt8], seed: UInt32) -> UInt32 {
        let p1: UInt32 = 2_654_435_761, p2: UInt32 = 2_246_822_519, p3: UInt32 = 3_266_489_917
        let p4: UInt32 = 668_265_263, p5: UInt32 = 374_761_393
        func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }
        func word(_ i: Int) -> UInt32 {
            UInt32(input[i]) | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2]) << 16 | UInt32(input[i + 3]) << 24
        }
        var i = 0
        var h: UInt32
        if input.count >= 16 {
            var v1 = seed &+ p1 &+ p2, v2 = seed &+ p2, v3 = seed, v4 = seed &- p1
            while i + 16 <= input.count {
                v1 = rotl(v1 &+ word(i) &* p2, 13) &* p1
                v2 = rotl(v2 &+ word(i + 4) &* p2, 13) &* p1
                v3 = rotl(v3 &+ word(i + 8) &* p2, 13) &* p1
                v4 = rotl(v4 &+ word(i + 12) &* p2, 13) &* p1
                i += 16
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
        } else {
            h = seed &+ p5
        }
        h = h &+ UInt32(input.count)
        while i + 4 <= input.count { h = rotl(h &+ word(i) &* p3, 17) &* p4; i += 4 }
        while i < input.count { h = rotl(h &+ UInt32(input[i]) &* p5, 11) &* p1; i += 1 }
        h ^= h >> 15; h = h &* p2; h ^= h >> 13; h = h &* p3; h ^= h >> 16
        return h
    }
}
