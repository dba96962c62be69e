import Foundation

/// The CPU features that matter to the kernels, read from /proc/cpuinfo.
public enum CPUFeatures {
    static let interesting = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "neon", "asimd"]

    /// Names of the interesting flags this machine has.
    public static var current: [String] {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") || line.hasPrefix("Features") {
            let flags = Set(line.split(separator: ":").last?.split(separator: " ").map(String.init) ?? [])
            return interesting.filter(flags.contains)
        }
        return []
    }
}
