// Kernels: SIMD math on raw buffers (GEMM, norms, activations, softmax,
// attention) and the thread pool. No model knowledge lives here; every fast
// kernel has a scalar reference twin that the tests use as the oracle.
//
// The one dispatch point for the instruction set is the build: SIMD16<Float>
// becomes AVX-512 only when the module is compiled for such a CPU, e.g.
//     swiftSettings: [.unsafeFlags(["-target-cpu", "x86-64-v4"]), .define("DOJO_FMA")]
// DOJO_FMA says fused multiply-add is in the target: without it `madd` is a
// multiply then an add (a baseline x86-64 build would otherwise call fmaf()
// per lane, ~100× slower).
import Foundation

public enum Kernels {
    /// How the SIMD kernels were compiled, for `dojo bench` and logs.
    public static var simdPath: String {
        #if DOJO_FMA
        return "fma (SIMD16 fused multiply-add)"
        #else
        return "generic (no DOJO_FMA: multiply then add; build with -target-cpu and -DDOJO_FMA for full speed)"
        #endif
    }
}

/// acc += a · b, fused when the target has FMA (see the header).
@inline(__always)
func madd(_ acc: inout SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) {
    #if DOJO_FMA
    acc.addProduct(a, b)
    #else
    acc += a * b
    #endif
}
