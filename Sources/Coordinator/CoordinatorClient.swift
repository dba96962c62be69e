// What the CLI uses to talk to a coordinator: submit (streaming the input with flow control),
// status, results, cancel, workers. Request/reply over a dealer-like transport; the CLI makes the
// transport (a ZeroMQ DEALER connected to the coordinator) and decides exit codes.
import Foundation
import Wire

/// A request the coordinator refused or did not answer.
public enum CoordinatorClientError: Error, Equatable, CustomStringConvertible {
    /// The coordinator answered with an error.
    case refused(code: ErrorCode, message: String)
    /// No answer within the timeout.
    case timedOut(waitingFor: String, afterMs: Int)
    /// An answer that makes no sense for the request.
    case unexpectedReply(String)
    /// The input could not be read.
    case input(String)

    public var description: String {
        switch self {
        case .refused(let code, let message): return "coordinator refused (code \(code.rawValue)): \(message)"
        case .timedOut(let what, let ms): return "no \(what) from the coordinator within \(ms) ms; is it running at that address?"
        case .unexpectedReply(let what): return "unexpected reply from the coordinator: \(what)"
        case .input(let what): return "cannot read the input: \(what)"
        }
    }
}

/// How `results` went.
public struct ResultsSummary: Equatable, Sendable {
    public var shards: Int
    /// Shards whose output is not there yet (job still running, or cancelled before they ran).
    public var pending: Int
    public var bytes: UInt64

    public init(shards: Int, pending: Int, bytes: UInt64) { self.shards = shards; self.pending = pending; self.bytes = bytes }
}

public final class CoordinatorClient {
    let transport: Transport
    public let timeoutMs: Int

    /// `transport` is dealer-like (no routing id frame), connected to the coordinator.
    public init(transport: Transport, timeoutMs: Int = 30_000) {
        self.transport = transport; self.timeoutMs = timeoutMs
    }

    /// Submits a job: the spec (JSON), then the input read by `nextChunk` (nil at the end), sent
    /// in chunks of at most the coordinator's maximum with at most its credits in flight.
    /// `progress` gets the bytes sent so far. Returns the recorded job.
    public func submit(spec: Data, name: String, totalBytes: UInt64? = nil,
                       nextChunk: (_ maxBytes: Int) throws -> Data?,
                       progress: (UInt64) -> Void = { _ in }) throws -> Submitted {
        try transport.send(.submitBegin(SubmitBegin(name: name, spec: spec, totalBytes: totalBytes)))
        guard case .submitReady(let ready) = try awaitReply("submitReady") else { throw CoordinatorClientError.unexpectedReply("to submitBegin") }
        var credits = ready.credits
        var sequence: UInt64 = 0
        var sent: UInt64 = 0
        var acked: UInt64 = 0
        while true {
            while credits == 0 {
                guard case .submitAck(let ack) = try awaitReply("submitAck"), ack.uploadId == ready.uploadId else {
                    throw CoordinatorClientError.unexpectedReply("while uploading")
                }
                credits += ack.credits
                acked = ack.sequence + 1
            }
            let chunk: Data?
            do { chunk = try nextChunk(Int(ready.maxChunkBytes)) } catch { throw CoordinatorClientError.input("\(error)") }
            guard let chunk, !chunk.isEmpty else { break }
            try transport.send(.submitChunk(SubmitChunk(uploadId: ready.uploadId, sequence: sequence, bytes: chunk)))
            sequence += 1
            credits -= 1
            sent += UInt64(chunk.count)
            progress(sent)
        }
        while acked < sequence {
            guard case .submitAck(let ack) = try awaitReply("submitAck") else { throw CoordinatorClientError.unexpectedReply("while uploading") }
            acked = ack.sequence + 1
        }
        try transport.send(.submitEnd(SubmitEnd(uploadId: ready.uploadId, chunkCount: sequence, totalBytes: sent)))
        guard case .submitted(let submitted) = try awaitReply("submitted") else { throw CoordinatorClientError.unexpectedReply("to submitEnd") }
        return submitted
    }

    /// Submits a job whose input is a file.
    public func submit(spec: Data, name: String, input: URL, progress: (UInt64) -> Void = { _ in }) throws -> Submitted {
        guard let handle = FileHandle(forReadingAtPath: input.path) else { throw CoordinatorClientError.input("cannot open \(input.path)") }
        defer { try? handle.close() }
        let size = (try? FileManager.default.attributesOfItem(atPath: input.path)[.size] as? UInt64) ?? nil
        return try submit(spec: spec, name: name, totalBytes: size, nextChunk: { max in try handle.read(upToCount: max) },
                          progress: progress)
    }

    /// One job's status, or every job's when `jobId` is nil.
    public func status(jobId: String? = nil) throws -> [JobStatus] {
        try transport.send(.status(jobId: jobId))
        guard case .statusReply(let json) = try awaitReply("statusReply") else { throw CoordinatorClientError.unexpectedReply("to status") }
        return try JSONDecoder().decode(StatusDocument.self, from: json).jobs
    }

    /// Cancels a job; false when it had already finished.
    public func cancel(jobId: String) throws -> Bool {
        try transport.send(.cancel(jobId: jobId))
        guard case .cancelled(_, let wasActive) = try awaitReply("cancelled") else { throw CoordinatorClientError.unexpectedReply("to cancel") }
        return wasActive
    }

    public func workers() throws -> [WorkerStatus] {
        try transport.send(.workers)
        guard case .workersReply(let json) = try awaitReply("workersReply") else { throw CoordinatorClientError.unexpectedReply("to workers") }
        return try JSONDecoder().decode(WorkersDocument.self, from: json).workers
    }

    /// The job's output in input order, one shard at a time: decompressed JSONL, or with `raw`
    /// the stored LZ4 frames (concatenated frames are what `lz4 -dc` reads). Pending shards are
    /// skipped and counted.
    public func results(jobId: String, raw: Bool = false, maxShardBytes: Int = 1 << 30,
                        into sink: (Data) throws -> Void) throws -> ResultsSummary {
        var summary = ResultsSummary(shards: 0, pending: 0, bytes: 0)
        var index: UInt32 = 0
        while true {
            try transport.send(.results(jobId: jobId, shardIndex: index))
            guard case .resultsReply(let reply) = try awaitReply("resultsReply") else { throw CoordinatorClientError.unexpectedReply("to results") }
            summary.shards = Int(reply.shardCount)
            switch reply.state {
            case .noSuchShard: return summary
            case .pending: summary.pending += 1
            case .done:
                let data = raw ? reply.frame : try LZ4Frame.decompress(reply.frame, maxOutputBytes: maxShardBytes)
                summary.bytes += UInt64(data.count)
                try sink(data)
            }
            index += 1
            if index >= reply.shardCount { return summary }
        }
    }

    /// The next reply; an `.error` becomes `.refused`; heartbeats are skipped.
    private func awaitReply(_ what: String) throws -> Message {
        while true {
            guard let frames = try transport.receive(timeoutMs: timeoutMs) else {
                throw CoordinatorClientError.timedOut(waitingFor: what, afterMs: timeoutMs)
            }
            let message = try Message.decode(frames: frames)
            switch message {
            case .error(let e): throw CoordinatorClientError.refused(code: e.code, message: e.message)
            case .heartbeat: continue
            default: return message
            }
        }
    }
}
