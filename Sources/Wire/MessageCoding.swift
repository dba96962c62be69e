import Foundation

/// Caps applied while decoding: a hostile or broken peer cannot make us allocate more than these.
public struct WireLimits: Equatable, Sendable {
    /// Ids and names: job ids, worker names, model names.
    public var maxNameBytes: Int
    /// Free text: error messages, failure reasons.
    public var maxTextBytes: Int
    /// Entries in a list (cpu features, models, attempt ids).
    public var maxListCount: Int
    /// Task specs and JSON replies.
    public var maxSpecBytes: Int
    /// Shard payloads, result frames and upload chunks.
    public var maxPayloadBytes: Int

    public init(maxNameBytes: Int = 256, maxTextBytes: Int = 16 * 1024, maxListCount: Int = 1024,
                maxSpecBytes: Int = 4 << 20, maxPayloadBytes: Int = 256 << 20) {
        self.maxNameBytes = maxNameBytes; self.maxTextBytes = maxTextBytes; self.maxListCount = maxListCount
        self.maxSpecBytes = maxSpecBytes; self.maxPayloadBytes = maxPayloadBytes
    }

    public static let `default` = WireLimits()
}

extension Message {
    /// Size of the fixed header: magic (2), version (1), kind (1).
    public static let headerBytes = 4

    /// The message as one frame: header then fields.
    public func encoded() -> Data {
        var w = BinaryWriter(capacity: 64 + payloadSizeHint)
        w.write(Message.magic.0)
        w.write(Message.magic.1)
        w.write(Message.protocolVersion)
        w.write(kind.rawValue)
        encodeFields(into: &w)
        return w.data
    }

    /// Decode one frame. Throws `WireDecodingError` for anything that is not exactly one
    /// well-formed message of this protocol version; never traps.
    public static func decode(_ frame: Data, limits: WireLimits = .default) throws -> Message {
        var r = BinaryReader(frame)
        let m0 = try r.readUInt8("magic"), m1 = try r.readUInt8("magic")
        guard m0 == magic.0, m1 == magic.1 else { throw WireDecodingError.badMagic }
        let version = try r.readUInt8("version")
        let kindByte = try r.readUInt8("kind")
        // `.error` keeps one layout in every version, so a peer of another version can read why it
        // was turned away; everything else must match our version exactly.
        guard version == protocolVersion || kindByte == Kind.error.rawValue else {
            throw WireDecodingError.unsupportedVersion(got: version, supported: protocolVersion)
        }
        guard let kind = Kind(rawValue: kindByte) else { throw WireDecodingError.unknownKind(kindByte) }
        let message = try decodeFields(kind, &r, limits)
        try r.expectEnd()
        return message
    }

    /// Decode the body of a multipart message that must hold exactly one frame.
    public static func decode(frames: [Data], limits: WireLimits = .default) throws -> Message {
        guard frames.count == 1 else { throw WireDecodingError.wrongFrameCount(expected: 1, got: frames.count) }
        return try decode(frames[0], limits: limits)
    }

    /// Peek at the version byte of a frame with valid magic, so a coordinator can answer a peer of
    /// another version in a layout it understands. Nil when the frame is not a Dojo message.
    public static func peekVersion(_ frame: Data) -> UInt8? {
        guard frame.count >= headerBytes else { return nil }
        let s = frame.startIndex
        guard frame[s] == magic.0, frame[s + 1] == magic.1 else { return nil }
        return frame[s + 2]
    }

    private var payloadSizeHint: Int {
        switch self {
        case .result(let r): return r.frame.count
        case .assign(let a): return a.taskSpec.count + a.documents.count
        case .submitBegin(let s): return s.spec.count
        case .submitChunk(let c): return c.bytes.count
        case .resultsReply(let r): return r.frame.count
        case .statusReply(let j), .workersReply(let j): return j.count
        default: return 0
        }
    }

    private func encodeFields(into w: inout BinaryWriter) {
        switch self {
        case .hello(let h):
            w.write(h.workerName); w.write(h.threads); w.write(h.cpuFeatures); w.write(h.models)
            w.write(h.adapters); w.write(h.softwareVersion)
        case .ready(let credits):
            w.write(credits)
        case .workerHeartbeat(let s):
            w.write(s.documentsPerSecond); w.write(s.tokensPerSecond); w.write(s.activeAttemptIds)
            w.write(s.models); w.write(s.adapters)
        case .result(let r):
            w.write(r.jobId); w.write(r.shardId); w.write(r.attemptId); w.write(r.documentCount)
            w.write(r.errorCount); w.write(r.tokenCount); w.write(r.rawBytes); w.write(r.frame)
        case .shardFailed(let f):
            w.write(f.jobId); w.write(f.shardId); w.write(f.attemptId); w.write(f.reason)
        case .bye(let reason):
            w.write(reason)
        case .welcome(let x):
            w.write(x.coordinatorName); w.write(x.heartbeatIntervalMs); w.write(x.heartbeatLiveness)
            w.write(x.maxMessageBytes)
        case .assign(let a):
            w.write(a.jobId); w.write(a.shardId); w.write(a.attemptId); w.write(a.leaseDeadlineMs)
            w.write(a.taskSpec); w.write(a.documentCount); w.write(a.documents); w.write(a.firstLine)
        case .heartbeat, .workers:
            break
        case .cancel(let jobId):
            w.write(jobId)
        case .withdraw(let jobId, let shardId, let attemptId):
            w.write(jobId); w.write(shardId); w.write(attemptId)
        case .error(let e):
            // Stable across versions: u16 code + string.
            w.write(e.code.rawValue); w.write(e.message)
        case .submitBegin(let s):
            w.write(s.name); w.write(s.spec)
            if let total = s.totalBytes { w.write(UInt8(1)); w.write(total) } else { w.write(UInt8(0)) }
        case .submitReady(let s):
            w.write(s.uploadId); w.write(s.credits); w.write(s.maxChunkBytes)
        case .submitChunk(let c):
            w.write(c.uploadId); w.write(c.sequence); w.write(c.bytes)
        case .submitAck(let a):
            w.write(a.uploadId); w.write(a.sequence); w.write(a.credits)
        case .submitEnd(let e):
            w.write(e.uploadId); w.write(e.chunkCount); w.write(e.totalBytes)
        case .submitted(let s):
            w.write(s.jobId); w.write(s.documentCount); w.write(s.shardCount)
        case .status(let jobId):
            w.write(jobId)
        case .statusReply(let json), .workersReply(let json):
            w.write(json)
        case .cancelled(let jobId, let wasActive):
            w.write(jobId); w.write(wasActive)
        case .results(let jobId, let shardIndex):
            w.write(jobId); w.write(shardIndex)
        case .resultsReply(let r):
            w.write(r.jobId); w.write(r.shardIndex); w.write(r.shardCount); w.write(r.state.rawValue); w.write(r.frame)
        }
    }

    private static func decodeFields(_ kind: Kind, _ r: inout BinaryReader, _ l: WireLimits) throws -> Message {
        let name = l.maxNameBytes, text = l.maxTextBytes
        switch kind {
        case .hello:
            return .hello(Hello(
                workerName: try r.readString("hello.workerName", maxBytes: name),
                threads: try r.readUInt16("hello.threads"),
                cpuFeatures: try r.readStrings("hello.cpuFeatures", maxCount: l.maxListCount, maxBytes: name),
                models: try r.readStrings("hello.models", maxCount: l.maxListCount, maxBytes: name),
                adapters: try r.readStrings("hello.adapters", maxCount: l.maxListCount, maxBytes: name),
                softwareVersion: try r.readString("hello.softwareVersion", maxBytes: name)))
        case .ready:
            return .ready(credits: try r.readUInt32("ready.credits"))
        case .workerHeartbeat:
            return .workerHeartbeat(WorkerStats(
                documentsPerSecond: try r.readDouble("workerHeartbeat.documentsPerSecond"),
                tokensPerSecond: try r.readDouble("workerHeartbeat.tokensPerSecond"),
                activeAttemptIds: try r.readUInt64s("workerHeartbeat.activeAttemptIds", maxCount: l.maxListCount),
                models: try r.readStrings("workerHeartbeat.models", maxCount: l.maxListCount, maxBytes: name),
                adapters: try r.readStrings("workerHeartbeat.adapters", maxCount: l.maxListCount, maxBytes: name)))
        case .result:
            return .result(ShardResult(
                jobId: try r.readString("result.jobId", maxBytes: name),
                shardId: try r.readUInt32("result.shardId"),
                attemptId: try r.readUInt64("result.attemptId"),
                documentCount: try r.readUInt32("result.documentCount"),
                errorCount: try r.readUInt32("result.errorCount"),
                tokenCount: try r.readUInt64("result.tokenCount"),
                rawBytes: try r.readUInt64("result.rawBytes"),
                frame: try r.readBytes("result.frame", maxBytes: l.maxPayloadBytes)))
        case .shardFailed:
            return .shardFailed(ShardFailure(
                jobId: try r.readString("shardFailed.jobId", maxBytes: name),
                shardId: try r.readUInt32("shardFailed.shardId"),
                attemptId: try r.readUInt64("shardFailed.attemptId"),
                reason: try r.readString("shardFailed.reason", maxBytes: text)))
        case .bye:
            return .bye(reason: try r.readString("bye.reason", maxBytes: text))
        case .welcome:
            return .welcome(Welcome(
                coordinatorName: try r.readString("welcome.coordinatorName", maxBytes: name),
                heartbeatIntervalMs: try r.readUInt32("welcome.heartbeatIntervalMs"),
                heartbeatLiveness: try r.readUInt16("welcome.heartbeatLiveness"),
                maxMessageBytes: try r.readUInt64("welcome.maxMessageBytes")))
        case .assign:
            return .assign(Assignment(
                jobId: try r.readString("assign.jobId", maxBytes: name),
                shardId: try r.readUInt32("assign.shardId"),
                attemptId: try r.readUInt64("assign.attemptId"),
                leaseDeadlineMs: try r.readUInt64("assign.leaseDeadlineMs"),
                taskSpec: try r.readBytes("assign.taskSpec", maxBytes: l.maxSpecBytes),
                documentCount: try r.readUInt32("assign.documentCount"),
                documents: try r.readBytes("assign.documents", maxBytes: l.maxPayloadBytes),
                firstLine: try r.readUInt64("assign.firstLine")))
        case .heartbeat:
            return .heartbeat
        case .cancel:
            return .cancel(jobId: try r.readString("cancel.jobId", maxBytes: name))
        case .withdraw:
            return .withdraw(jobId: try r.readString("withdraw.jobId", maxBytes: name),
                             shardId: try r.readUInt32("withdraw.shardId"), attemptId: try r.readUInt64("withdraw.attemptId"))
        case .error:
            return .error(ErrorReply(code: ErrorCode(rawValue: try r.readUInt16("error.code")),
                                     message: try r.readString("error.message", maxBytes: text)))
        case .submitBegin:
            let jobName = try r.readString("submitBegin.name", maxBytes: name)
            let spec = try r.readBytes("submitBegin.spec", maxBytes: l.maxSpecBytes)
            let total: UInt64? = try r.readBool("submitBegin.totalBytes.present")
                ? try r.readUInt64("submitBegin.totalBytes") : nil
            return .submitBegin(SubmitBegin(name: jobName, spec: spec, totalBytes: total))
        case .submitReady:
            return .submitReady(SubmitReady(uploadId: try r.readUInt64("submitReady.uploadId"),
                                            credits: try r.readUInt32("submitReady.credits"),
                                            maxChunkBytes: try r.readUInt32("submitReady.maxChunkBytes")))
        case .submitChunk:
            return .submitChunk(SubmitChunk(uploadId: try r.readUInt64("submitChunk.uploadId"),
                                            sequence: try r.readUInt64("submitChunk.sequence"),
                                            bytes: try r.readBytes("submitChunk.bytes", maxBytes: l.maxPayloadBytes)))
        case .submitAck:
            return .submitAck(SubmitAck(uploadId: try r.readUInt64("submitAck.uploadId"),
                                        sequence: try r.readUInt64("submitAck.sequence"),
                                        credits: try r.readUInt32("submitAck.credits")))
        case .submitEnd:
            return .submitEnd(SubmitEnd(uploadId: try r.readUInt64("submitEnd.uploadId"),
                                        chunkCount: try r.readUInt64("submitEnd.chunkCount"),
                                        totalBytes: try r.readUInt64("submitEnd.totalBytes")))
        case .submitted:
            return .submitted(Submitted(jobId: try r.readString("submitted.jobId", maxBytes: name),
                                        documentCount: try r.readUInt64("submitted.documentCount"),
                                        shardCount: try r.readUInt32("submitted.shardCount")))
        case .status:
            return .status(jobId: try r.readOptionalString("status.jobId", maxBytes: name))
        case .statusReply:
            return .statusReply(json: try r.readBytes("statusReply.json", maxBytes: l.maxSpecBytes))
        case .cancelled:
            return .cancelled(jobId: try r.readString("cancelled.jobId", maxBytes: name),
                              wasActive: try r.readBool("cancelled.wasActive"))
        case .results:
            return .results(jobId: try r.readString("results.jobId", maxBytes: name),
                            shardIndex: try r.readUInt32("results.shardIndex"))
        case .resultsReply:
            let jobId = try r.readString("resultsReply.jobId", maxBytes: name)
            let index = try r.readUInt32("resultsReply.shardIndex")
            let count = try r.readUInt32("resultsReply.shardCount")
            let stateByte = try r.readUInt8("resultsReply.state")
            guard let state = ResultsReply.State(rawValue: stateByte) else {
                throw WireDecodingError.invalidValue(field: "resultsReply.state", value: UInt64(stateByte))
            }
            return .resultsReply(ResultsReply(jobId: jobId, shardIndex: index, shardCount: count, state: state,
                                              frame: try r.readBytes("resultsReply.frame", maxBytes: l.maxPayloadBytes)))
        case .workers:
            return .workers
        case .workersReply:
            return .workersReply(json: try r.readBytes("workersReply.json", maxBytes: l.maxSpecBytes))
        }
    }
}
