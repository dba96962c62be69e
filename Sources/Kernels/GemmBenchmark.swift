// GemmBenchmark: a short, allocation-light speed check of Gemm for `dojo bench`.
import Foundation

extension Gemm {
    /// Speed of one GEMM shape, in GFLOP/s (2·m·n·k per call).
    public struct BenchmarkResult: Sendable {
        /// From the fastest call's wall-clock time.
        public var wallGflops: Double
        /// From the process CPU time over all calls, times the thread count: what the
        /// threads reach while they run, even when other processes share the cores.
        public var cpuGflops: Double
    }

    /// GFLOP/s of matmulTransposed(m, n, k) on random data with a pool of `threads`,
    /// the best of `iterations` calls by wall-clock time (after one warm-up call).
    public static func benchmark(m: Int, n: Int, k: Int, threads: Int, iterations: Int,
                                 precision: MatmulPrecision = .f32) -> Double {
        benchmarkDetailed(m: m, n: n, k: k, threads: threads, iterations: iterations, precision: precision).wallGflops
    }

    /// Both wall-clock and CPU-time GFLOP/s; see `BenchmarkResult`.
    public static func benchmarkDetailed(m: Int, n: Int, k: Int, threads: Int, iterations: Int,
                                         precision: MatmulPrecision = .f32) -> BenchmarkResult {
        let a = UnsafeMutablePointer<Float>.allocate(capacity: m * k)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: n * k)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { a.deallocate(); b.deallocate(); c.deallocate() }
        var seed: UInt32 = 12345
        for i in 0..<(m * k) { seed = seed &* 1664525 &+ 1013904223; a[i] = Float(seed >> 8) / Float(1 << 24) - 0.5 }
        for i in 0..<(n * k) { seed = seed &* 1664525 &+ 1013904223; b[i] = Float(seed >> 8) / Float(1 << 24) - 0.5 }
        let pool = ThreadPool(threads: threads)
        // bf16 packs B once, as a model does when it loads.
        let packed = precision == .bf16 ? BF16Weight(b, ldb: k, n: n, k: k) : nil
        let run = {
            if let packed {
                GemmBF16.matmulTransposed(m: m, a: a, lda: k, weight: packed, c: c, ldc: n, pool: pool)
            } else {
                matmulTransposed(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: k, c: c, ldc: n, pool: pool)
            }
        }
        run()
        var best = Double.infinity
        let cpuStart = processCPUSeconds()
        for _ in 0..<max(1, iterations) {
            let t0 = monotonicSeconds()
            run()
            best = min(best, monotonicSeconds() - t0)
        }
        let cpu = processCPUSeconds() - cpuStart
        let flops = 2 * Double(m) * Double(n) * Double(k)
        return BenchmarkResult(wallGflops: flops / best / 1e9,
                               cpuGflops: flops * Double(max(1, iterations)) * Double(threads) / cpu / 1e9)
    }

    private static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    private static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
