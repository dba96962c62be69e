// ThreadPool: persistent worker threads that run parallel loops. The caller's
// thread takes part; workers spin briefly after each loop, then park on a
// condition variable. One parallel loop at a time per pool (one caller).
import Foundation
import Synchronization

/// A fixed set of threads that runs parallel loops; the caller's thread takes part.
public final class ThreadPool: @unchecked Sendable {
    /// Total threads including the caller.
    public let threads: Int

    /// All cores of the machine.
    public static var defaultThreadCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

    private let state: PoolState

    public init(threads: Int) {
        precondition(threads >= 1, "ThreadPool needs at least one thread")
        self.threads = threads
        state = PoolState(threads: threads)
        for worker in 1..<threads {
            let state = self.state
            let thread = Thread { state.workerLoop(worker: worker) }
            thread.name = "dojo-pool-\(worker)"
            thread.start()
        }
    }

    deinit { state.shutdown() }

    /// Runs body(index, worker) for index in 0..<count; worker in 0..<threads identifies the thread
    /// (for per-thread scratch). Returns when all are done. Work is handed out by an atomic counter.
    /// Not reentrant: body must not call parallelFor on the same pool. With more than one thread this
    /// makes one small allocation per loop (withoutActuallyEscaping's thunk); the
    /// `parallelFor(_:context:_:)` form makes none.
    public func parallelFor(_ count: Int, _ body: (_ index: Int, _ worker: Int) -> Void) {
        if count <= 0 { return }
        if threads == 1 || count == 1 {
            for i in 0..<count { body(i, 0) }
            return
        }
        // withoutActuallyEscaping boxes a small thunk (one ~32-byte malloc per loop with Swift 6.3);
        // hot callers that must not allocate use the context-pointer form below.
        withoutActuallyEscaping(body) { body in
            state.body = body
            state.run(count: count, context: Unmanaged.passUnretained(state).toOpaque()) { context, index, worker in
                Unmanaged<PoolState>.fromOpaque(context).takeUnretainedValue().body!(index, worker)
            }
            state.body = nil
        }
    }

    /// A parallel loop body that captures nothing: it gets the caller's context pointer.
    public typealias RawBody = @convention(c) (_ context: UnsafeMutableRawPointer, _ index: Int, _ worker: Int) -> Void

    /// As `parallelFor(_:_:)`, with the loop's state behind `context`: never allocates.
    public func parallelFor(_ count: Int, context: UnsafeMutableRawPointer, _ body: RawBody) {
        if count <= 0 { return }
        if threads == 1 || count == 1 {
            for i in 0..<count { body(context, i, 0) }
            return
        }
        state.run(count: count, context: context, body: body)
    }

    /// Per-thread scratch of at least `count` floats, 64-byte aligned, contents undefined.
    /// Only thread `worker` may use it (inside a parallelFor, or worker 0 outside one).
    /// Grows on demand, so it does not allocate once warm.
    public func scratch(worker: Int, count: Int) -> UnsafeMutablePointer<Float> {
        state.slots[worker].reserve(count)
    }

    /// Scratch shared by all threads of one loop (worker 0 sizes it before the loop).
    func sharedScratch(count: Int) -> UnsafeMutablePointer<Float> {
        state.slots[threads].reserve(count)
    }

    /// A one-thread pool private to the calling thread, for `pool: nil` callers that need scratch.
    static var serial: ThreadPool {
        if let raw = pthread_getspecific(serialPoolKey) {
            return Unmanaged<ThreadPool>.fromOpaque(raw).takeUnretainedValue()
        }
        let pool = ThreadPool(threads: 1)
        pthread_setspecific(serialPoolKey, Unmanaged.passRetained(pool).toOpaque())
        return pool
    }
}

private let serialPoolKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { raw in
        guard let raw else { return }
        Unmanaged<ThreadPool>.fromOpaque(raw).release()
    }
    return key
}()

/// A growable, 64-byte aligned float buffer.
struct ScratchSlot {
    var pointer: UnsafeMutablePointer<Float>? = nil
    var capacity = 0

    mutating func reserve(_ count: Int) -> UnsafeMutablePointer<Float> {
        if let pointer, capacity >= count { return pointer }
        if let pointer { UnsafeMutableRawPointer(pointer).deallocate() }
        let newCapacity = max(count, capacity * 3 / 2, 1024)
        let raw = UnsafeMutableRawPointer.allocate(byteCount: newCapacity * 4, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: newCapacity)
        capacity = newCapacity
        return pointer!
    }

    mutating func free() {
        if let pointer { UnsafeMutableRawPointer(pointer).deallocate() }
        pointer = nil
        capacity = 0
    }
}

/// What the worker threads share with the caller. Workers retain it, not the pool,
/// so the pool's deinit can stop them.
final class PoolState: @unchecked Sendable {
    typealias Body = (Int, Int) -> Void

    let threads: Int
    /// Bumped by the caller to publish a loop (or shutdown).
    let generation = Atomic<Int>(0)
    /// The generation whose loop is finished; late workers skip it.
    let closed = Atomic<Int>(0)
    /// The next index to hand out.
    let next = Atomic<Int>(0)
    /// Workers currently inside a loop.
    let active = Atomic<Int>(0)
    /// Workers parked (or about to park) on the condition.
    let sleepers = Atomic<Int>(0)
    let stopping = Atomic<Bool>(false)

    // Written by the caller before the generation bump, read by workers after it.
    var rawBody: ThreadPool.RawBody? = nil
    var context: UnsafeMutableRawPointer? = nil
    var count = 0
    /// The closure of the closure form of parallelFor (called through rawBody).
    var body: Body? = nil

    /// One per thread, plus one shared slot at index `threads`.
    let slots: UnsafeMutablePointer<ScratchSlot>
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    /// Spin iterations before a worker parks (a few tens of microseconds).
    static let spinLimit = 40_000

    init(threads: Int) {
        self.threads = threads
        slots = .allocate(capacity: threads + 1)
        slots.initialize(repeating: ScratchSlot(), count: threads + 1)
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        for i in 0...threads { slots[i].free() }
        slots.deallocate()
        pthread_mutex_destroy(mutex)
        pthread_cond_destroy(condition)
        mutex.deallocate()
        condition.deallocate()
    }

    func run(count: Int, context: UnsafeMutableRawPointer, body: ThreadPool.RawBody) {
        self.rawBody = body
        self.context = context
        self.count = count
        next.store(0, ordering: .relaxed)
        let gen = generation.add(1, ordering: .sequentiallyConsistent).newValue
        wake()
        // The caller takes part.
        drain(body: body, context: context, count: count, worker: 0)
        // Close the loop, then wait for the workers that joined it.
        closed.store(gen, ordering: .sequentiallyConsistent)
        // A worker still inside the loop is usually microseconds from done; sched_yield is a
        // system call that costs as much in a VM, so spin well past that first.
        var spins = 0
        while active.load(ordering: .sequentiallyConsistent) != 0 {
            spins += 1
            if spins > PoolState.spinLimit { sched_yield() }
        }
        self.rawBody = nil
        self.context = nil
    }

    @inline(__always)
    private func drain(body: ThreadPool.RawBody, context: UnsafeMutableRawPointer, count: Int, worker: Int) {
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            if i >= count { return }
            body(context, i, worker)
        }
    }

    private func wake() {
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
    }

    func shutdown() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }

    func workerLoop(worker: Int) {
        var seen = 0
        while true {
            // Wait for a new generation: spin, then park.
            var gen = generation.load(ordering: .acquiring)
            var spins = 0
            while gen == seen && spins < PoolState.spinLimit {
                spins += 1
                gen = generation.load(ordering: .acquiring)
            }
            if gen == seen {
                sleepers.add(1, ordering: .sequentiallyConsistent)
                pthread_mutex_lock(mutex)
                gen = generation.load(ordering: .sequentiallyConsistent)
                while gen == seen {
                    pthread_cond_wait(condition, mutex)
                    gen = generation.load(ordering: .sequentiallyConsistent)
                }
                pthread_mutex_unlock(mutex)
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
            }
            seen = gen
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            active.add(1, ordering: .sequentiallyConsistent)
            if closed.load(ordering: .sequentiallyConsistent) < gen, let rawBody, let context {
                drain(body: rawBody, context: context, count: count, worker: worker)
            }
            active.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}
