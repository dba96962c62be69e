// swift-tools-version:6.0
import PackageDescription

// Kernels are optimised even in debug builds: unoptimised SIMD code is tens
// of times slower and the real-model tests would not finish. They are built for
// AVX-512 with FMA: for plain x86-64, SIMD16.addProduct becomes 16 fmaf() calls
// (0.8 GFLOP/s measured) and the GEMM tops out near 28 instead of ~100 per core.
let fastKernels: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"], .when(configuration: .debug)),
    .unsafeFlags(["-target-cpu", "skylake-avx512"]),
    .define("DOJO_FMA"),
]

let package = Package(
    name: "Dojo",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "dojo", targets: ["dojo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // System-library shims over Debian's libzmq and liblz4.
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),

        // Inference side: never imports networking.
        // The integer block dot products in C with AVX2 intrinsics: Swift's SIMD types do not
        // lower to vpmaddubsw/vpmaddwd (the Swift version ran at 11 tokens/s).
        .target(name: "CQuantDot", cSettings: [.unsafeFlags(["-O3", "-march=skylake-avx512"])]),
        // The bf16 micro-kernel in C: Swift has no way to emit vdpbf16ps. Each function asks for
        // AVX-512 BF16 itself and callers check the CPU first, so the target builds for any x86-64.
        .target(name: "CGemmBF16", cSettings: [.unsafeFlags(["-O3"])]),
        .target(name: "Kernels", dependencies: ["CQuantDot", "CGemmBF16"], swiftSettings: fastKernels),
        .target(name: "Models", dependencies: ["Kernels", .product(name: "Logging", package: "swift-log")],
                swiftSettings: fastKernels),
        .target(name: "DomainTasks", dependencies: ["Models", "Yams", .product(name: "Logging", package: "swift-log")]),

        // Control side: never imports kernels or models.
        .target(name: "Wire", dependencies: ["CZeroMQ", "CLZ4", .product(name: "Logging", package: "swift-log")]),
        .target(name: "Coordinator", dependencies: ["Wire", .product(name: "Logging", package: "swift-log"),
                                                  .product(name: "GRDB", package: "GRDB.swift"),
                                                  .product(name: "Metrics", package: "swift-metrics"),
                                                  .product(name: "Prometheus", package: "swift-prometheus"),
                                                  .product(name: "Hummingbird", package: "hummingbird")]),

        // The one place the two sides meet.
        .target(name: "Worker", dependencies: ["Wire", "DomainTasks", "Models", "Kernels", "Yams",
                                             .product(name: "Logging", package: "swift-log"),
                                             .product(name: "Metrics", package: "swift-metrics"),
                                             .product(name: "Prometheus", package: "swift-prometheus"),
                                             .product(name: "Hummingbird", package: "hummingbird")]),

        // What the terminal shows (progress, dojo top) and how logs are written; tested without processes.
        .target(name: "Console", dependencies: ["Coordinator", .product(name: "Logging", package: "swift-log")]),

        .executableTarget(name: "dojo", dependencies: [
            "Kernels", "Models", "DomainTasks", "Wire", "Coordinator", "Worker", "Console",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        .target(name: "TestSupport", dependencies: ["Kernels", "Models"]),

        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "ModelsTests", dependencies: ["Models", "Kernels", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "DomainTasksTests", dependencies: ["DomainTasks", "TestSupport"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["Coordinator", "Wire"]),
        .testTarget(name: "WorkerTests", dependencies: ["Worker", "DomainTasks", "Kernels", "Wire"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "Coordinator", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "EndToEndTests", dependencies: ["TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
