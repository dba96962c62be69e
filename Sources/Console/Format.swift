// The small pieces every progress display is made of: bars, percentages, rates, durations. Pure
// functions, so the exact text users see is fixed by tests.
import Foundation

/// Formatting of progress cells, shared by `dojo top`, `dojo status` and `dojo submit --wait`.
public enum Format {
    /// Shown where a value is unknown (no rate yet, a job that is not running has no ETA).
    public static let unknown = "-"
    /// 29/100 × 100 is 28.999…: without this nudge it would show as 28%.
    static let epsilon = 1e-9

    /// `[█████·····]`, `width` cells between the brackets; a cell fills only when wholly reached.
    public static func bar(_ fraction: Double, width: Int) -> String {
        let width = max(width, 0)
        let filled = min(max(Int((fraction * Double(width) + epsilon).rounded(.down)), 0), width)
        return "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled) + "]"
    }

    /// Whole percent, rounded down so that 100% means done.
    public static func percent(_ fraction: Double) -> String {
        "\(min(max(Int((fraction * 100 + epsilon).rounded(.down)), 0), 100))%"
    }

    /// `120.5 docs/s`; `-` when unknown.
    public static func rate(_ perSecond: Double?, unit: String = "docs/s") -> String {
        guard let perSecond, perSecond.isFinite, perSecond >= 0 else { return unknown }
        return String(format: "%.1f", perSecond) + " " + unit
    }

    /// `45s`, `3m07s`, `2h05m`, `3d04h`; `-` when unknown or negative.
    public static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0, seconds < 1e9 else { return unknown }
        let s = Int(seconds.rounded())
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(two(s % 60))s" }
        if s < 86_400 { return "\(s / 3600)h\(two(s % 3600 / 60))m" }
        return "\(s / 86_400)d\(two(s % 86_400 / 3600))h"
    }

    /// A heartbeat age: `0.4s` under ten seconds (where the tenths matter), else as `duration`.
    public static func age(milliseconds: UInt64?) -> String {
        guard let milliseconds else { return unknown }
        if milliseconds < 10_000 { return String(format: "%.1fs", Double(milliseconds) / 1000) }
        return duration(Double(milliseconds) / 1000)
    }

    /// Cuts `text` to `width` characters, marking the cut with `…`.
    public static func fit(_ text: String, width: Int) -> String {
        guard width > 0 else { return "" }
        guard text.count > width else { return text }
        return String(text.prefix(width - 1)) + "…"
    }
}
