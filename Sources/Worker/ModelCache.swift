import DomainTasks
import Foundation
import Kernels
import Logging
import Models

/// Models and adapters for tasks, keyed by content (file sizes, times and a hash of the config and
/// weight-file header), least recently used evicted when the mapped bytes exceed the budget.
public final class ModelCache: ModelProvider {
    public let pool: ThreadPool
    let budgetBytes: Int
    private var encoders: [String: (encoder: SentenceEncoder, bytes: Int, used: UInt64)] = [:]
    private var adapters: [String: (adapter: LoRAAdapter, bytes: Int, used: UInt64)] = [:]
    private var decoders: [String: (model: LlamaModel, bytes: Int, used: UInt64)] = [:]
    private var tick: UInt64 = 0
    private let lock = NSLock()
    private let logger = Logger(label: "dojo.worker.models")

    public init(pool: ThreadPool, budgetBytes: Int) {
        self.pool = pool
        self.budgetBytes = budgetBytes
    }

    /// Names of what is loaded, for hello.
    public var loadedModels: [String] {
        lock.withLock {
            (encoders.values.map { $0.encoder.directory.lastPathComponent }
                + decoders.values.map { URL(fileURLWithPath: $0.model.file.path).lastPathComponent }).sorted()
        }
    }
    public var loadedAdapters: [String] { lock.withLock { adapters.values.map { $0.adapter.directory.lastPathComponent }.sorted() } }

    public func encoder(_ name: String, precision: MatmulPrecision) throws -> SentenceEncoder {
        let url = try ModelRegistry.resolve(name)
        let key = Self.contentKey(url) + "|" + precision.rawValue
        return try lock.withLock {
            tick += 1
            if let hit = encoders[key] { encoders[key]!.used = tick; return hit.encoder }
            let started = Date()
            let encoder = try SentenceEncoder(directory: url, precision: precision)
            // bf16 keeps a packed half-size copy of the linear weights beside the mapped file.
            let mapped = Self.size(of: url.appendingPathComponent("model.safetensors"))
            let bytes = precision == .bf16 ? mapped + mapped / 2 : mapped
            encoders[key] = (encoder, bytes, tick)
            logger.info("model loaded", metadata: ["model": "\(url.lastPathComponent)", "bytes": "\(bytes)",
                                                   "ms": "\(Int(Date().timeIntervalSince(started) * 1000))"])
            evict(keeping: key)
            return encoder
        }
    }

    public func adapter(_ path: String, for encoder: SentenceEncoder) throws -> LoRAAdapter {
        let url = URL(fileURLWithPath: path)
        let key = encoder.directory.path + "|" + Self.contentKey(url)
        return try lock.withLock {
            tick += 1
            if let hit = adapters[key] { adapters[key]!.used = tick; return hit.adapter }
            let adapter = try encoder.loadAdapter(url)
            adapters[key] = (adapter, Self.size(of: url.appendingPathComponent("adapter_model.safetensors")), tick)
            evict(keeping: key)
            return adapter
        }
    }

    public func decoder(_ name: String) throws -> LlamaModel {
        let url = try ModelRegistry.resolve(name)
        let key = Self.contentKey(url)
        return try lock.withLock {
            tick += 1
            if let hit = decoders[key] { decoders[key]!.used = tick; return hit.model }
            let started = Date()
            let model = try LlamaModel(path: url.path)
            let bytes = Self.size(of: url)
            decoders[key] = (model, bytes, tick)
            logger.info("model loaded", metadata: ["model": "\(url.lastPathComponent)", "bytes": "\(bytes)",
                                                   "ms": "\(Int(Date().timeIntervalSince(started) * 1000))"])
            evict(keeping: key)
            return model
        }
    }

    /// Drops the least recently used entries until the cache fits its budget (never the one just used).
    private func evict(keeping key: String) {
        var total = encoders.values.reduce(0) { $0 + $1.bytes } + adapters.values.reduce(0) { $0 + $1.bytes }
            + decoders.values.reduce(0) { $0 + $1.bytes }
        while total > budgetBytes {
            let candidates = encoders.filter { $0.key != key }.map { ($0.key, $0.value.used, $0.value.bytes, 0) }
                + adapters.filter { $0.key != key }.map { ($0.key, $0.value.used, $0.value.bytes, 1) }
                + decoders.filter { $0.key != key }.map { ($0.key, $0.value.used, $0.value.bytes, 2) }
            guard let oldest = candidates.min(by: { $0.1 < $1.1 }) else { return }
            switch oldest.3 {
            case 0: encoders[oldest.0] = nil
            case 1: adapters[oldest.0] = nil
            default: decoders[oldest.0] = nil
            }
            total -= oldest.2
            logger.info("evicted from the model cache", metadata: ["key": "\(oldest.0)", "bytes": "\(oldest.2)"])
        }
    }

    static func size(of url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// What identifies a model's content cheaply: the small files' bytes, and the weight files' sizes,
    /// modification times and first 64 KiB (the safetensors header), hashed.
    static func contentKey(_ url: URL) -> String {
        var hasher = FNV1a()
        let fm = FileManager.default
        let files = ((try? fm.contentsOfDirectory(atPath: url.path)) ?? [""]).sorted()
        for name in files {
            let file = name.isEmpty ? url : url.appendingPathComponent(name)
            let attributes = try? fm.attributesOfItem(atPath: file.path)
            let size = (attributes?[.size] as? NSNumber)?.intValue ?? 0
            let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            hasher.add(name); hasher.add(String(size)); hasher.add(String(modified))
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               let handle = FileHandle(forReadingAtPath: file.path) {
                if let head = try? handle.read(upToCount: 65_536) { hasher.add(head) }
                try? handle.close()
            }
        }
        return url.lastPathComponent + "@" + String(hasher.value, radix: 16)
    }
}

/// 64-bit FNV-1a, enough to tell two model files apart.
struct FNV1a {
    private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325
    mutating func add(_ data: Data) { for b in data { value = (value ^ UInt64(b)) &* 0x100_0000_01b3 } }
    mutating func add(_ s: String) { add(Data(s.utf8)); add(Data([0])) }
}
