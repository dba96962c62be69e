import Kernels
import Synchronization
import XCTest

final class ThreadPoolTests: XCTestCase {
    func testEveryIndexOnceAndWorkersInRange() {
        for threads in [1, 2, 3] {
            let pool = ThreadPool(threads: threads)
            XCTAssertEqual(pool.threads, threads)
            for count in [0, 1, 2, 7, 1000] {
                let visits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
                visits.initialize(repeating: 0, count: max(count, 1))
                defer { visits.deallocate() }
                let badWorker = Atomic<Int>(0)
                let calls = Atomic<Int>(0)
                pool.parallelFor(count) { i, worker in
                    visits[i] += 1   // each index is handed to exactly one thread
                    calls.add(1, ordering: .relaxed)
                    if worker < 0 || worker >= threads { badWorker.add(1, ordering: .relaxed) }
                }
                XCTAssertEqual(calls.load(ordering: .relaxed), count)
                XCTAssertEqual(badWorker.load(ordering: .relaxed), 0)
                for i in 0..<count { XCTAssertEqual(visits[i], 1, "threads \(threads) count \(count) index \(i)") }
            }
        }
    }

    func testContextFormVisitsEveryIndexOnce() {
        let pool = ThreadPool(threads: 2)
        for count in [0, 1, 5, 333] {
            var visits = [Int](repeating: 0, count: count + 1)   // last slot counts bad worker ids
            visits.withUnsafeMutableBufferPointer { buffer in
                var state = (visits: buffer.baseAddress!, count: count)
                withUnsafeMutablePointer(to: &state) { statePointer in
                    pool.parallelFor(count, context: UnsafeMutableRawPointer(statePointer)) { context, index, worker in
                        let state = context.assumingMemoryBound(to: (visits: UnsafeMutablePointer<Int>, count: Int).self).pointee
                        state.visits[index] += 1
                        if worker < 0 || worker >= 2 { state.visits[state.count] += 1 }
                    }
                }
            }
            XCTAssertEqual(visits, [Int](repeating: 1, count: count) + [0], "count \(count)")
        }
    }

    func testManyDispatchesInARow() {
        let pool = ThreadPool(threads: 2)
        let total = Atomic<Int>(0)
        for round in 0..<2000 {
            pool.parallelFor(round % 5) { i, _ in total.add(i + 1, ordering: .relaxed) }
        }
        // Σ over rounds of (1 + … + round%5)
        let expected = (0..<2000).reduce(0) { $0 + ($1 % 5) * ($1 % 5 + 1) / 2 }
        XCTAssertEqual(total.load(ordering: .relaxed), expected)
    }

    func testWorkersWakeAfterParking() {
        let pool = ThreadPool(threads: 2)
        let seen = Atomic<Int>(0)
        pool.parallelFor(4) { _, _ in seen.add(1, ordering: .relaxed) }
        usleep(50_000)   // long enough for the worker to park
        pool.parallelFor(64) { _, _ in seen.add(1, ordering: .relaxed) }
        XCTAssertEqual(seen.load(ordering: .relaxed), 68)
    }

    func testScratchIsPerWorkerAndGrows() {
        let pool = ThreadPool(threads: 2)
        let small = pool.scratch(worker: 1, count: 10)
        XCTAssertEqual(Int(bitPattern: small) % 64, 0)
        let again = pool.scratch(worker: 1, count: 10)
        XCTAssertEqual(small, again)
        XCTAssertNotEqual(pool.scratch(worker: 0, count: 10), small)
        pool.scratch(worker: 1, count: 100_000)[99_999] = 1
        XCTAssertGreaterThanOrEqual(ThreadPool.defaultThreadCount, 1)
    }
}
