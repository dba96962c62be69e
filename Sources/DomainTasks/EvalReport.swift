import Foundation

/// An evaluation as text, as one JSON object, and as a self-contained HTML page with a heat map.
public enum EvalReport {
    static func pct(_ x: Double) -> String { String(format: "%.1f%%", x * 100) }
    static func f3(_ x: Double) -> String { String(format: "%.3f", x) }

    public static func text(_ e: Evaluation, title: String) -> String {
        var out = "\(title)\n"
        out += "units \(e.total)  top-1 accuracy \(pct(e.accuracy)) (\(e.correct)/\(e.total))  macro-F1 \(f3(e.macroF1))\n\n"
        let width = min(max(e.labels.map(\.count).max() ?? 5, 5), 40)
        func pad(_ s: String, _ n: Int) -> String { s.count >= n ? String(s.prefix(n)) : s + String(repeating: " ", count: n - s.count) }
        func lpad(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
        out += "  #  " + pad("label", width) + "  precision  recall     f1  support  predicted\n"
        for (i, s) in e.perLabel.enumerated() where s.support > 0 || s.predicted > 0 {
            out += lpad(String(i), 3) + "  " + pad(s.label, width) + "  " + lpad(f3(s.precision), 9) + "  " + lpad(f3(s.recall), 6)
                + "  " + lpad(f3(s.f1), 5) + "  " + lpad(String(s.support), 7) + "  " + lpad(String(s.predicted), 9) + "\n"
        }
        let shown = e.labels.indices.filter { i in e.perLabel[i].support > 0 || e.perLabel[i].predicted > 0 }
        out += "\nconfusion (rows gold, columns predicted, by # above):\n"
        let cell = max(3, String(e.confusion.flatMap { $0 }.max() ?? 0).count + 1)
        out += "    " + shown.map { lpad(String($0), cell) }.joined() + "\n"
        for r in shown {
            out += lpad(String(r), 3) + " " + shown.map { c in lpad(e.confusion[r][c] == 0 ? "." : String(e.confusion[r][c]), cell) }.joined() + "\n"
        }
        return out
    }

    public static func json(_ e: Evaluation, extra: [(String, String)] = []) -> String {
        var s = "{\"accuracy\":\(e.accuracy),\"macro_f1\":\(e.macroF1),\"units\":\(e.total),\"correct\":\(e.correct)"
        for (k, v) in extra { s += ",\(JSONText.quote(k)):\(v)" }
        s += ",\"labels\":[" + e.labels.map(JSONText.quote).joined(separator: ",") + "]"
        s += ",\"per_label\":{" + e.perLabel.map {
            "\(JSONText.quote($0.label)):{\"precision\":\($0.precision),\"recall\":\($0.recall),\"f1\":\($0.f1),\"support\":\($0.support),\"predicted\":\($0.predicted)}"
        }.joined(separator: ",") + "}"
        s += ",\"confusion\":[" + e.confusion.map { JSONText.ints($0) }.joined(separator: ",") + "]}"
        return s
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// One HTML file, no scripts or external resources: summary, per-label table, and the confusion
    /// matrix as a heat map (cell colour = share of the gold row).
    public static func html(_ e: Evaluation, title: String) -> String {
        let shown = e.labels.indices.filter { i in e.perLabel[i].support > 0 || e.perLabel[i].predicted > 0 }
        var h = """
        <!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title><style>
        body{font:14px system-ui,sans-serif;margin:24px;color:#222}
        table{border-collapse:collapse}td,th{padding:3px 6px;text-align:right}
        th{font-weight:600}td.l,th.l{text-align:left}
        table.cm td{width:26px;height:22px;text-align:center;font-size:11px;border:1px solid #fff}
        table.cm th.c{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:400;font-size:11px;text-align:left;height:auto}
        table.cm th.r{font-weight:400;font-size:11px;text-align:right;white-space:nowrap}
        .sum{font-size:16px;margin:8px 0 16px}
        </style></head><body>
        <h1>\(escape(title))</h1>
        <p class="sum">\(e.total) units · top-1 accuracy <b>\(pct(e.accuracy))</b> · macro-F1 <b>\(f3(e.macroF1))</b></p>
        <h2>Confusion matrix</h2><p>Rows: gold label; columns: predicted. Colour: share of the row; diagonal in blue, errors in red.</p>
        <table class="cm"><tr><th></th>
        """
        for c in shown { h += "<th class=\"c\">\(escape(e.labels[c]))</th>" }
        h += "</tr>\n"
        for r in shown {
            let rowTotal = max(e.confusion[r].reduce(0, +), 1)
            h += "<tr><th class=\"r\">\(escape(e.labels[r]))</th>"
            for c in shown {
                let n = e.confusion[r][c]
                let share = Double(n) / Double(rowTotal)
                let color = r == c ? "rgba(30,90,200,\(String(format: "%.3f", share)))" : "rgba(210,40,40,\(String(format: "%.3f", share)))"
                let fg = share > 0.5 ? "#fff" : "#222"
                h += "<td style=\"background:\(color);color:\(fg)\" title=\"\(escape(e.labels[r])) → \(escape(e.labels[c])): \(n)\">\(n == 0 ? "" : String(n))</td>"
            }
            h += "</tr>\n"
        }
        h += "</table>\n<h2>Per label</h2><table><tr><th class=\"l\">label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th>predicted</th></tr>\n"
        for i in shown {
            let s = e.perLabel[i]
            h += "<tr><td class=\"l\">\(escape(s.label))</td><td>\(f3(s.precision))</td><td>\(f3(s.recall))</td><td>\(f3(s.f1))</td><td>\(s.support)</td><td>\(s.predicted)</td></tr>\n"
        }
        return h + "</table></body></html>\n"
    }
}
