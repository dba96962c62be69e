import Foundation
import Wire
import XCTest

final class MessageTests: XCTestCase {
    /// One example of every message kind, with non-trivial field values.
    static let examples: [Message] = [
        .hello(Hello(workerName: "gpu-box-7", threads: 16, cpuFeatures: ["avx2", "fma"], models: ["minilm", "smollm2"],
                     adapters: ["contracts-v3"], softwareVersion: "0.1.0")),
        .ready(credits: 3),
        .withdraw(jobId: "j-7", shardId: 3, attemptId: 42),
        .workerHeartbeat(WorkerStats(documentsPerSecond: 1234.5, tokensPerSecond: 98765.25, activeAttemptIds: [7, 9],
                                     models: ["minilm@3f2a"], adapters: ["cuad@91bc"])),
        .result(ShardResult(jobId: "job-42", shardId: 17, attemptId: 3, documentCount: 256, errorCount: 2,
                            tokenCount: 51_200, rawBytes: 1 << 33, frame: Data([0x04, 0x22, 0x4D, 0x18, 1, 2, 3]))),
        .shardFailed(ShardFailure(jobId: "job-42", shardId: 18, attemptId: 4, reason: "model not found: ünïcode")),
        .bye(reason: "SIGTERM"),
        .welcome(Welcome(coordinatorName: "coord", heartbeatIntervalMs: 1000, heartbeatLiveness: 3,
                         maxMessageBytes: 512 << 20)),
        .assign(Assignment(jobId: "job-42", shardId: 17, attemptId: 3, leaseDeadlineMs: 1_700_000_000_123,
                           taskSpec: Data("task: embed\nmodel: minilm\n".utf8), documentCount: 2,
                           documents: Data(repeating: 0xAB, count: 1000))),
        .heartbeat,
        .cancel(jobId: "job-42"),
        .error(ErrorReply(code: .invalidSpec, message: "unknown task 'embedd' (did you mean 'embed'?)")),
        .error(ErrorReply(code: .unknown(999), message: "")),
        .submitBegin(SubmitBegin(name: "nightly", spec: Data("task: embed\n".utf8), totalBytes: 123_456)),
        .submitBegin(SubmitBegin(name: "", spec: Data(), totalBytes: nil)),
        .submitReady(SubmitReady(uploadId: 99, credits: 8, maxChunkBytes: 1 << 20)),
        .submitChunk(SubmitChunk(uploadId: 99, sequence: 5, bytes: Data("{\"id\":1}\n{\"id\"".utf8))),
        .submitAck(SubmitAck(uploadId: 99, sequence: 5, credits: 4)),
        .submitEnd(SubmitEnd(uploadId: 99, chunkCount: 6, totalBytes: 123_456)),
        .submitted(Submitted(jobId: "job-43", documentCount: 5000, shardCount: 20)),
        .status(jobId: "job-43"),
        .status(jobId: nil),
        .statusReply(json: Data("{\"jobs\":[]}".utf8)),
        .cancelled(jobId: "job-43", wasActive: true),
        .results(jobId: "job-43", shardIndex: 7),
        .resultsReply(ResultsReply(jobId: "job-43", shardIndex: 7, shardCount: 20, state: .done, frame: Data([1, 2]))),
        .resultsReply(ResultsReply(jobId: "job-43", shardIndex: 8, shardCount: 20, state: .pending)),
        .workers,
        .workersReply(json: Data("[{\"name\":\"w1\"}]".utf8)),
    ]

    func testEveryKindHasAnExample() {
        XCTAssertEqual(Set(Self.examples.map(\.kind)), Set(Message.Kind.allCases))
    }

    func testRoundTripEveryKind() throws {
        for message in Self.examples {
            let frame = message.encoded()
            XCTAssertEqual(Array(frame.prefix(4)), [0x44, 0x4A, Message.protocolVersion, message.kind.rawValue])
            XCTAssertEqual(try Message.decode(frame), message)
            XCTAssertEqual(try Message.decode(frames: [frame]), message)
        }
    }

    /// The exact bytes of a small message, so layout changes are deliberate.
    func testLayoutIsLittleEndianAndCompact() {
        XCTAssertEqual(Array(Message.ready(credits: 0x0102_0304).encoded()), [0x44, 0x4A, 2, 0x02, 0x04, 0x03, 0x02, 0x01])
        XCTAssertEqual(Array(Message.cancel(jobId: "ab").encoded()), [0x44, 0x4A, 2, 0x13, 2, 0, 0x61, 0x62])
        XCTAssertEqual(Array(Message.status(jobId: nil).encoded()), [0x44, 0x4A, 2, 0x26, 0])
        XCTAssertEqual(Array(Message.heartbeat.encoded()), [0x44, 0x4A, 2, 0x12])
    }

    func testDecodesSliceWithNonZeroStartIndex() throws {
        let frame = Data([9, 9, 9]) + Message.cancel(jobId: "j").encoded()
        XCTAssertEqual(try Message.decode(frame.dropFirst(3)), .cancel(jobId: "j"))
    }

    func testTypedErrors() {
        func expect(_ bytes: [UInt8], _ expected: WireDecodingError, line: UInt = #line) {
            XCTAssertThrowsError(try Message.decode(Data(bytes)), line: line) {
                XCTAssertEqual($0 as? WireDecodingError, expected, line: line)
            }
        }
        expect([], .truncated(field: "magic", needed: 1, remaining: 0))
        expect([0x47, 0x45, 0x54, 0x20], .badMagic) // "GET "
        expect([0x44, 0x4A, 1, 0x12], .unsupportedVersion(got: 1, supported: 2))
        expect([0x44, 0x4A, 0, 0x01], .unsupportedVersion(got: 0, supported: 2))
        expect([0x44, 0x4A, 2, 0x55], .unknownKind(0x55))
        expect([0x44, 0x4A, 2, 0x12, 0], .trailingBytes(1))
        expect([0x44, 0x4A, 2, 0x02, 1, 2], .truncated(field: "ready.credits", needed: 4, remaining: 2))
        expect([0x44, 0x4A, 2, 0x13, 2, 0, 0xFF, 0xFE], .invalidUTF8(field: "cancel.jobId"))
        expect([0x44, 0x4A, 2, 0x28, 1, 0, 0x61, 7], .invalidValue(field: "cancelled.wasActive", value: 7))
        // A name longer than its cap is refused before reading it.
        expect([0x44, 0x4A, 2, 0x13, 0xFF, 0xFF], .tooLarge(field: "cancel.jobId", length: 65535, limit: 256))
        // A payload claiming 4 GiB is refused by the cap, not allocated.
        expect([0x44, 0x4A, 2, 0x22] + [UInt8](repeating: 0, count: 16) + [0xFF, 0xFF, 0xFF, 0xFF],
               .tooLarge(field: "submitChunk.bytes", length: Int(UInt32.max), limit: 256 << 20))
        XCTAssertThrowsError(try Message.decode(frames: [])) {
            XCTAssertEqual($0 as? WireDecodingError, .wrongFrameCount(expected: 1, got: 0))
        }
    }

    /// An `.error` from a peer of another version still decodes (its layout is frozen), and every
    /// decoding error maps to a reply the coordinator can send back.
    func testErrorRepliesAcrossVersions() throws {
        var frame = Message.error(ErrorReply(code: .unsupportedVersion, message: "speak v1")).encoded()
        frame[2] = 9
        XCTAssertEqual(try Message.decode(frame), .error(ErrorReply(code: .unsupportedVersion, message: "speak v1")))

        var hello = Message.heartbeat.encoded()
        hello[2] = 9
        XCTAssertThrowsError(try Message.decode(hello)) { error in
            let e = error as! WireDecodingError
            XCTAssertEqual(e.replyCode, .unsupportedVersion)
            guard case .error(let reply) = e.reply else { return XCTFail() }
            XCTAssertTrue(reply.message.contains("version 9"), reply.message)
        }
        XCTAssertEqual(WireDecodingError.badMagic.replyCode, .badMessage)
    }

    func testLimitsAreConfigurable() throws {
        let big = Message.submitChunk(SubmitChunk(uploadId: 1, sequence: 0, bytes: Data(count: 2000)))
        XCTAssertThrowsError(try Message.decode(big.encoded(), limits: WireLimits(maxPayloadBytes: 1000)))
        XCTAssertEqual(try Message.decode(big.encoded(), limits: WireLimits(maxPayloadBytes: 2000)), big)
    }

    func testPeekVersion() {
        XCTAssertEqual(Message.peekVersion(Data([0x44, 0x4A, 7, 0x01, 0xFF])), 7)
        XCTAssertNil(Message.peekVersion(Data([0x44, 0x4B, 1, 1])))
        XCTAssertNil(Message.peekVersion(Data([0x44])))
    }

    /// Every strict prefix of every valid encoding fails with a typed error.
    func testTruncationsOfValidEncodingsThrow() {
        for message in Self.examples {
            let frame = message.encoded()
            for cut in 0 ..< frame.count {
                XCTAssertThrowsError(try Message.decode(frame.prefix(cut)), "\(message.kind) cut at \(cut)") {
                    XCTAssertNotNil($0 as? WireDecodingError)
                }
            }
        }
    }

    /// Random bytes, and valid encodings with random bytes flipped, never crash the decoder.
    func testFuzzNeverCrashes() {
        var rng = SplitMix64(seed: 0xD0_70)
        var decodedCount = 0
        for _ in 0 ..< 20_000 {
            let count = Int(rng.next() % 64)
            var bytes = (0 ..< count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            // Half of the inputs get a valid header, so the field decoders are exercised too.
            if count >= 4 && rng.next() % 2 == 0 {
                bytes[0] = 0x44; bytes[1] = 0x4A; bytes[2] = Message.protocolVersion
                let kinds = Message.Kind.allCases
                bytes[3] = kinds[Int(rng.next() % UInt64(kinds.count))].rawValue
            }
            do { _ = try Message.decode(Data(bytes)); decodedCount += 1 } catch { XCTAssertNotNil(error as? WireDecodingError) }
        }
        for message in Self.examples {
            let frame = message.encoded()
            for _ in 0 ..< 200 {
                var bad = frame
                let flips = 1 + Int(rng.next() % 3)
                for _ in 0 ..< flips { bad[Int(rng.next() % UInt64(bad.count))] ^= UInt8(truncatingIfNeeded: rng.next() | 1) }
                do { _ = try Message.decode(bad) } catch { XCTAssertNotNil(error as? WireDecodingError) }
            }
        }
        XCTAssertGreaterThan(decodedCount, 0, "some random inputs should be valid short messages (e.g. heartbeat)")
    }
}

/// Deterministic generator for the fuzz test.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
