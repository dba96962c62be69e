// The key/value cache of a Llama-family decoder: one region per sequence slot, so sequences
// of a batch join and leave independently (continuous batching). Like llama2.c's
// `key_cache`/`value_cache`, with a slot dimension in front.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Keys and values of every layer for `slots` sequences of up to `context` positions each, in
/// f16 as llama.cpp keeps them by default (half the memory traffic of f32; the rounding is part
/// of what the reference logits were computed with).
public final class KVCache: @unchecked Sendable {
    public let slots: Int
    public let layers: Int
    /// Positions each slot holds.
    public let context: Int
    /// Floats per position of one layer: KV heads × head dim.
    public let kvDim: Int
    /// Positions per row of the transposed keys: context rounded up to 16, so attention reads
    /// sixteen positions of one dimension as one vector.
    public let keyStride: Int
    /// Per slot and layer: keys transposed [kvDim, keyStride], then values [context, kvDim].
    /// Anonymous memory: pages a slot never reaches are never touched, so a long context costs
    /// address space, not RSS (mostly: each key row touches a page per 2,048 positions).
    let storage: UnsafeMutablePointer<Float16>
    /// Halves one slot's layer takes.
    private let layerHalves: Int
    private let byteCount: Int

    public init(slots: Int, layers: Int, context: Int, kvDim: Int) {
        precondition(slots > 0 && layers > 0 && context > 0 && kvDim > 0, "empty KV cache")
        self.slots = slots
        self.layers = layers
        self.context = context
        self.kvDim = kvDim
        keyStride = (context + 15) & ~15
        layerHalves = kvDim * keyStride + context * kvDim
        byteCount = slots * layers * layerHalves * MemoryLayout<Float16>.stride
        let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else {
            fatalError("cannot reserve \(byteCount >> 20) MiB for the KV cache (\(slots) slots × \(context) positions); lower --parallel or --context")
        }
        storage = p.bindMemory(to: Float16.self, capacity: byteCount / MemoryLayout<Float16>.stride)
    }

    deinit { munmap(storage, byteCount) }

    /// Bytes the cache reserves (touched lazily).
    public var reservedBytes: Int { byteCount }

    /// Keys of `layer` for `slot`, transposed: [kvDim, keyStride].
    @inline(__always)
    public func keys(slot: Int, layer: Int) -> UnsafeMutablePointer<Float16> {
        storage + (slot * layers + layer) * layerHalves
    }

    /// Values of `layer` for `slot`: [context, kvDim].
    @inline(__always)
    public func values(slot: Int, layer: Int) -> UnsafeMutablePointer<Float16> {
        storage + (slot * layers + layer) * layerHalves + kvDim * keyStride
    }
}
