/// Text columns two spaces apart, each as wide as its widest cell; trailing blanks trimmed.
public struct Table: Sendable {
    public var header: [String]
    public var rows: [[String]]
    /// Columns aligned to the right (numbers).
    public var rightAligned: Set<Int>

    public init(header: [String], rows: [[String]], rightAligned: Set<Int> = []) {
        self.header = header; self.rows = rows; self.rightAligned = rightAligned
    }

    /// Width of each column.
    public var widths: [Int] {
        var w = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < w.count { w[i] = max(w[i], cell.count) }
        }
        return w
    }

    /// The header line, then one line per row.
    public func lines() -> [String] {
        let w = widths
        return ([header] + rows).map { row in
            var line = ""
            for (i, cell) in row.enumerated() where i < w.count {
                let pad = String(repeating: " ", count: w[i] - cell.count)
                if i > 0 { line += "  " }
                line += rightAligned.contains(i) ? pad + cell : cell + pad
            }
            while line.last == " " { line.removeLast() }
            return line
        }
    }
}
