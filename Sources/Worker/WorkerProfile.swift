import Foundation
import Kernels
import Yams

/// A worker profile (`workers/NAME.yaml`): what a worker preloads and how much it may use.
public struct WorkerProfile: Codable, Sendable, Equatable {
    /// Shown by `dojo workers`; defaults to the host name and process id.
    public var name: String?
    /// Compute threads; defaults to all cores.
    public var threads: Int?
    /// Models to load at start (names or paths), so the first shard does not wait for them.
    public var models: [String]
    /// Adapter directories to load at start, for the first model.
    public var adapters: [String]
    /// Memory for cached models and adapters, in MB (default 2048); least recently used go first.
    public var memoryMB: Int
    /// Shards held at once: one computing and the rest queued, so the next starts without a round trip (default 2).
    public var credits: Int
    /// Precision of the encoders loaded at start: f32 (default), or bf16 for fleets whose jobs set
    /// `params.precision: bf16` (needs AVX-512 BF16). Jobs asking for the other load it on first use.
    public var precision: MatmulPrecision

    enum CodingKeys: String, CodingKey {
        case name, threads, models, adapters, credits, precision
        case memoryMB = "memory_mb"
    }

    public init(name: String? = nil, threads: Int? = nil, models: [String] = [], adapters: [String] = [],
                memoryMB: Int = 2048, credits: Int = 2, precision: MatmulPrecision = .f32) {
        self.name = name; self.threads = threads; self.models = models; self.adapters = adapters
        self.memoryMB = memoryMB; self.credits = credits; self.precision = precision
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        threads = try c.decodeIfPresent(Int.self, forKey: .threads)
        models = try c.decodeIfPresent([String].self, forKey: .models) ?? []
        adapters = try c.decodeIfPresent([String].self, forKey: .adapters) ?? []
        memoryMB = try c.decodeIfPresent(Int.self, forKey: .memoryMB) ?? 2048
        credits = try c.decodeIfPresent(Int.self, forKey: .credits) ?? 2
        precision = try c.decodeIfPresent(MatmulPrecision.self, forKey: .precision) ?? .f32
    }

    /// Reads a profile; errors name the file and the field.
    public static func load(_ url: URL) throws -> WorkerProfile {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw WorkerError.profile("\(url.path): cannot read the worker profile; check the path")
        }
        let profile: WorkerProfile
        do { profile = try YAMLDecoder().decode(WorkerProfile.self, from: text) } catch {
            throw WorkerError.profile("\(url.path): not a valid worker profile (\(error)); fields: name, threads, models, adapters, memory_mb, credits, precision (f32 or bf16)")
        }
        if let t = profile.threads, t < 1 { throw WorkerError.profile("\(url.path): threads must be at least 1") }
        guard profile.credits >= 1 && profile.credits <= 64 else { throw WorkerError.profile("\(url.path): credits must be in 1...64") }
        guard profile.memoryMB >= 64 else { throw WorkerError.profile("\(url.path): memory_mb must be at least 64") }
        if profile.precision == .bf16 && !GemmBF16.isSupported {
            throw WorkerError.profile("\(url.path): precision bf16 needs AVX-512 BF16 (avx512_bf16 in /proc/cpuinfo) and this CPU has none; use f32")
        }
        return profile
    }
}

/// Why a worker cannot start or go on.
public enum WorkerError: Error, CustomStringConvertible {
    case profile(String)
    case refused(String)
    case protocolError(String)

    public var description: String {
        switch self {
        case .profile(let m), .refused(let m), .protocolError(let m): return m
        }
    }
}
