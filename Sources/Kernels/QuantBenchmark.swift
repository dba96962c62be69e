// QuantBenchmark: random valid weight blocks (for tests and `dojo bench`) and a short speed
// check of QuantMatmul.
import Foundation

extension QuantMatmul {
    /// `rows` rows of k elements in `format`, random but valid: f16 scales in a sane range
    /// (|d| in [0.002, 0.02], mins in [-0.2, 0.2]); quant bytes uniform; float formats uniform in ±1.
    public static func randomWeights(format: QuantFormat, rows: Int, k: Int, seed: UInt64) -> [UInt8] {
        var state = seed &+ 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24) }
        func scale() -> Float { (next() & 1 == 0 ? 1 : -1) * uniform(0.002, 0.02) }
        let count = rows * format.rowBytes(k)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            func setHalf(_ offset: Int, _ v: Float) { p.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: offset, as: UInt16.self) }
            switch format {
            case .f32:
                for i in 0..<count / 4 { p.storeBytes(of: uniform(-1, 1), toByteOffset: 4 * i, as: Float.self) }
                return
            case .f16:
                for i in 0..<count / 2 { setHalf(2 * i, uniform(-1, 1)) }
                return
            case .bf16:
                for i in 0..<count / 2 {
                    p.storeBytes(of: UInt16(uniform(-1, 1).bitPattern >> 16), toByteOffset: 2 * i, as: UInt16.self)
                }
                return
            default:
                break
            }
            for i in 0..<count { p.storeBytes(of: UInt8(truncatingIfNeeded: next()), toByteOffset: i, as: UInt8.self) }
            for b in 0..<count / format.bytesPerBlock {
                let o = b * format.bytesPerBlock
                switch format {
                case .q4_0, .q5_0, .q8_0:
                    setHalf(o, scale())
                case .q4_1, .q5_1:
                    setHalf(o, scale()); setHalf(o + 2, uniform(-0.2, 0.2))
                case .q4_K, .q5_K:
                    setHalf(o, abs(scale()) / 16); setHalf(o + 2, abs(scale()) / 16)
                case .q6_K:
                    setHalf(o + 208, scale() / 16)
                case .f32, .f16, .bf16:
                    break
                }
            }
        }
        return bytes
    }

    /// Speed of one matmul shape, in GFLOP/s (2·m·n·k per call) from the fastest of `iterations`
    /// calls (after a warm-up call), on random weights with a pool of `threads`.
    public static func benchmark(m: Int, n: Int, k: Int, format: QuantFormat, threads: Int, iterations: Int) -> Double {
        benchmarkDetailed(m: m, n: n, k: k, format: format, threads: threads, iterations: iterations).wallGflops
    }

    /// Wall-clock and per-thread CPU-time figures of one shape.
    public struct BenchmarkResult: Sendable {
        /// GFLOP/s from the fastest call's wall-clock time.
        public var wallGflops: Double
        /// Weight bytes read per second (GB/s) at that time: what bounds m = 1.
        public var wallWeightGBps: Double
        /// GFLOP/s from the calling thread's CPU time over all calls (it takes part in every loop
        /// and spins while waiting, so this is the call's time while it runs, even when other
        /// processes share the cores).
        public var cpuGflops: Double
        /// Weight GB/s by the same CPU-time measure.
        public var cpuWeightGBps: Double
    }

    public static func benchmarkDetailed(m: Int, n: Int, k: Int, format: QuantFormat, threads: Int,
                                         iterations: Int) -> BenchmarkResult {
        let w = randomWeights(format: format, rows: n, k: k, seed: 7)
        var x = [Float](repeating: 0, count: m * k)
        var seed: UInt32 = 12345
        for i in 0..<x.count { seed = seed &* 1664525 &+ 1013904223; x[i] = Float(seed >> 8) / Float(1 << 24) - 0.5 }
        var y = [Float](repeating: 0, count: m * n)
        let pool = ThreadPool(threads: threads)
        var best = Double.infinity
        var cpu = 0.0
        w.withUnsafeBytes { w in
            x.withUnsafeBufferPointer { x in
                y.withUnsafeMutableBufferPointer { y in
                    let xp = x.baseAddress!, wp = w.baseAddress!, yp = y.baseAddress!
                    func run() {
                        matmul(m: m, n: n, k: k, x: xp, ldx: k, weights: wp, format: format, y: yp, ldy: n, pool: pool)
                    }
                    run()
                    let cpuStart = threadCPUSeconds()
                    for _ in 0..<max(1, iterations) {
                        let t0 = monotonicSeconds()
                        run()
                        best = min(best, monotonicSeconds() - t0)
                    }
                    cpu = threadCPUSeconds() - cpuStart
                }
            }
        }
        let calls = Double(max(1, iterations))
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let bytes = Double(w.count)
        return BenchmarkResult(wallGflops: flops / best / 1e9, wallWeightGBps: bytes / best / 1e9,
                               cpuGflops: flops * calls / cpu / 1e9,
                               cpuWeightGBps: bytes * calls / cpu / 1e9)
    }

    private static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// CPU time of the calling thread (which takes part in every loop, and waits spinning).
    private static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
