import Foundation

/// Reads a little-endian float32 C-order .npy matrix (what numpy.save writes for the references).
public enum Npy {
    public struct Matrix {
        public var rows: Int
        public var cols: Int
        public var values: [Float]
        public func row(_ r: Int) -> ArraySlice<Float> { values[r * cols..<(r + 1) * cols] }
    }

    public static func readFloat32(_ url: URL) throws -> Matrix {
        let data = try Data(contentsOf: url)
        guard data.count > 10, data[0] == 0x93, String(data: data[1..<6], encoding: .ascii) == "NUMPY" else {
            throw NSError(domain: "Npy", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(url.path): not a .npy file"])
        }
        let major = data[6]
        let headerLength = major == 1 ? Int(data[8]) | Int(data[9]) << 8
            : Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
        let start = major == 1 ? 10 : 12
        let header = String(data: data[start..<start + headerLength], encoding: .ascii) ?? ""
        guard header.contains("'<f4'"), header.contains("'fortran_order': False") else {
            throw NSError(domain: "Npy", code: 2, userInfo: [NSLocalizedDescriptionKey: "\(url.path): expected C-order <f4, got \(header)"])
        }
        let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
        let dims = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let rows = dims.first ?? 0, cols = dims.count > 1 ? dims[1] : 1
        var values = [Float](repeating: 0, count: rows * cols)
        values.withUnsafeMutableBytes { dst in
            data.withUnsafeBytes { src in
                dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(start + headerLength)...].prefix(rows * cols * 4)))
            }
        }
        return Matrix(rows: rows, cols: cols, values: values)
    }
}

/// Named tolerances shared by tests.
public enum Tolerance {
    /// Per-sentence cosine with sentence-transformers' embeddings.
    public static let embeddingCosine: Float = 0.99999
    /// Largest element difference with sentence-transformers' embeddings.
    public static let embeddingMaxAbs: Float = 1e-4
    /// The same two for the opt-in bf16 precision (README, "Correctness").
    public static let bf16EmbeddingCosine: Float = 0.9999
    public static let bf16EmbeddingMaxAbs: Float = 2.5e-3

    public static func cosine<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float where A.Element == Float, B.Element == Float {
        var dot: Float = 0, na: Float = 0, nb: Float = 0
        for (x, y) in zip(a, b) { dot += x * y; na += x * x; nb += y * y }
        return dot / max((na * nb).squareRoot(), 1e-30)
    }

    public static func maxAbsDifference<A: Collection, B: Collection>(_ a: A, _ b: B) -> Float where A.Element == Float, B.Element == Float {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }
}
