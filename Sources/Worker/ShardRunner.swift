import DomainTasks
import Foundation
import Logging
import Wire

/// Runs one shard: decompress the documents, parse each line, run the job's task, and compress the
/// records as one LZ4 frame. A bad line or a failing document becomes an error record; the shard goes on.
public final class ShardRunner {
    let models: ModelProvider
    private var tasks: [Data: DomainTask] = [:]   // by spec JSON, a few recent jobs
    private var order: [Data] = []
    private let logger = Logger(label: "dojo.worker.shard")
    /// Largest decompressed shard accepted (hostile input).
    public static let maxShardBytes = 1 << 30

    public init(models: ModelProvider) { self.models = models }

    /// The task a spec names, built once per spec.
    func task(for spec: Data) throws -> DomainTask {
        if let t = tasks[spec] { return t }
        let job = try DomainTasks.JobSpec.fromJSON(spec)
        let t = try TaskCatalog.make(job, models: models)
        tasks[spec] = t
        order.append(spec)
        if order.count > 4 { tasks[order.removeFirst()] = nil }
        return t
    }

    /// Documents run between checks of `shouldStop`: large enough to keep the model's batches full.
    static let chunkSize = 128

    /// The shard's result, or the reason the task cannot run here at all. `shouldStop` is asked
    /// between chunks of documents; when it says yes the shard ends as a failure saying it was withdrawn.
    public func run(_ assignment: Assignment, shouldStop: () -> Bool = { false }) -> Result<ShardResult, ShardFailure> {
        func failure(_ reason: String) -> Result<ShardResult, ShardFailure> {
            .failure(ShardFailure(jobId: assignment.jobId, shardId: assignment.shardId, attemptId: assignment.attemptId, reason: reason))
        }
        let task: DomainTask
        do { task = try self.task(for: assignment.taskSpec) } catch {
            return failure("cannot start the task on this worker: \(error)")
        }
        let payload: Data
        do { payload = try LZ4Frame.decompress(assignment.documents, maxOutputBytes: Self.maxShardBytes) } catch {
            return failure("shard payload is not a valid LZ4 frame: \(error)")
        }

        // Lines are found with memchr over the raw bytes: indexing `Data` byte by byte goes through
        // its storage class, with a run-time exclusivity check per byte.
        var entries: [Result<Document, DocumentError>] = []
        payload.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            var line = Int(assignment.firstLine)
            var start = 0
            while start < raw.count {
                let end = memchr(base + start, 0x0A, raw.count - start).map { $0 - UnsafeMutableRawPointer(mutating: base) } ?? raw.count
                entries.append(DocumentParser.parse(Data(bytes: base + start, count: end - start), lineNumber: line))
                line += 1
                start = end + 1
            }
        }
        var records: [TaskRecord] = []
        records.reserveCapacity(entries.count)
        for chunk in stride(from: 0, to: entries.count, by: Self.chunkSize) {
            if shouldStop() { return failure(Self.withdrawnReason) }
            records += task.records(for: Array(entries[chunk..<min(chunk + Self.chunkSize, entries.count)]))
        }
        var output = Data()
        output.reserveCapacity(records.reduce(0) { $0 + $1.json.utf8.count + 1 })
        var errors: UInt32 = 0, tokens: UInt64 = 0
        for record in records {
            if record.isError { errors += 1 }
            tokens += UInt64(record.tokens)
            output.append(contentsOf: record.json.utf8)
            output.append(0x0A)
        }
        let frame: Data
        do { frame = try LZ4Frame.compress(output) } catch { return failure("cannot compress the results: \(error)") }
        return .success(ShardResult(jobId: assignment.jobId, shardId: assignment.shardId, attemptId: assignment.attemptId,
                                    documentCount: UInt32(entries.count), errorCount: errors, tokenCount: tokens,
                                    rawBytes: UInt64(output.count), frame: frame))
    }

    /// The failure reason of an attempt stopped by a `withdraw`.
    public static let withdrawnReason = "withdrawn: another copy of this shard finished first"
}
