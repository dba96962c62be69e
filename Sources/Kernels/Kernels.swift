// Kernels: SIMD math on raw buffers (GEMM, norms, activations, softmax,
// attention) and the thread pool. No model knowledge lives here; every fast
// kernel has a scalar reference twin that the tests use as the oracle.
