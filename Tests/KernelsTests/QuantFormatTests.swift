import Kernels
import TestSupport
import XCTest

final class QuantFormatTests: XCTestCase {
    /// ggml's `sizeof(block_*)` and QK for each format, and its GGML_TYPE id.
    func testBlockSizesMatchGGML() {
        let expected: [(QuantFormat, id: Int, block: Int, bytes: Int)] = [
            (.f32, 0, 1, 4), (.f16, 1, 1, 2), (.q4_0, 2, 32, 18), (.q4_1, 3, 32, 20), (.q5_0, 6, 32, 22),
            (.q5_1, 7, 32, 24), (.q8_0, 8, 32, 34), (.q4_K, 12, 256, 144), (.q5_K, 13, 256, 176),
            (.q6_K, 14, 256, 210), (.bf16, 30, 1, 2),
        ]
        XCTAssertEqual(expected.count, QuantFormat.allCases.count)
        for (format, id, block, bytes) in expected {
            XCTAssertEqual(format.rawValue, id, "\(format)")
            XCTAssertEqual(QuantFormat(rawValue: id), format)
            XCTAssertEqual(format.blockSize, block, "\(format)")
            XCTAssertEqual(format.bytesPerBlock, bytes, "\(format)")
            XCTAssertEqual(format.rowBytes(512), 512 / block * bytes, "\(format)")
        }
        XCTAssertEqual(QuantFormat.q4_1.rowBytes(576), 360)
        XCTAssertEqual(QuantFormat.q8_0.rowBytes(576), 612)
        XCTAssertEqual(QuantFormat.q4_1.activationQuantization, .q8)
        XCTAssertEqual(QuantFormat.q6_K.activationQuantization, .q8K)
        XCTAssertEqual(QuantFormat.f16.activationQuantization, .none)
    }

    /// Hand-made blocks decode to the values the GGML layouts define.
    func testDequantizeHandMadeBlocks() {
        func half(_ v: Float) -> [UInt8] { let b = Float16(v).bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8)] }
        // Q4_1: d = 0.5, m = -1; byte j = (j+1)<<4 | j: value j = j·0.5 - 1, value j+16 = (j+1)·0.5 - 1.
        let q41 = half(0.5) + half(-1) + (0..<16).map { UInt8(($0 + 1) % 16) << 4 | UInt8($0) }
        var out = [Float](repeating: .nan, count: 32)
        q41.withUnsafeBytes { QuantMatmul.dequantizeRow($0.baseAddress!, format: .q4_1, k: 32, into: &out) }
        for j in 0..<16 {
            XCTAssertEqual(out[j], Float(j) * 0.5 - 1)
            XCTAssertEqual(out[j + 16], Float((j + 1) % 16) * 0.5 - 1)
        }
        // Q8_0: d = 0.25, q = j - 16.
        let q80 = half(0.25) + (0..<32).map { UInt8(bitPattern: Int8($0 - 16)) }
        q80.withUnsafeBytes { QuantMatmul.dequantizeRow($0.baseAddress!, format: .q8_0, k: 32, into: &out) }
        for j in 0..<32 { XCTAssertEqual(out[j], Float(j - 16) * 0.25) }
        // Q5_0: d = 1, nibbles 0, fifth bit set for odd values: value = 16·(j odd) - 16.
        let q50 = half(1) + [0xAA, 0xAA, 0xAA, 0xAA] + [UInt8](repeating: 0, count: 16)
        q50.withUnsafeBytes { QuantMatmul.dequantizeRow($0.baseAddress!, format: .q5_0, k: 32, into: &out) }
        for j in 0..<32 { XCTAssertEqual(out[j], j % 2 == 1 ? 0 : -16, "Q5_0 value \(j)") }
    }

    /// The fast dequantizers agree bit for bit with the scalar twin on random valid rows.
    func testDequantizeRowMatchesReference() {
        for format in QuantFormat.allCases {
            for k in [256, 512, 768] {
                let rows = 3
                let w = QuantMatmul.randomWeights(format: format, rows: rows, k: k, seed: UInt64(k + format.rawValue))
                var fast = [Float](repeating: .nan, count: rows * k), ref = fast
                w.withUnsafeBytes { w in
                    for r in 0..<rows {
                        let src = w.baseAddress! + r * format.rowBytes(k)
                        fast.withUnsafeMutableBufferPointer {
                            QuantMatmul.dequantizeRow(src, format: format, k: k, into: $0.baseAddress! + r * k)
                        }
                        ref.withUnsafeMutableBufferPointer {
                            QuantMatmul.referenceDequantizeRow(src, format: format, k: k, into: $0.baseAddress! + r * k)
                        }
                    }
                }
                for i in 0..<fast.count where fast[i] != ref[i] {
                    XCTFail("\(format) k \(k) element \(i): fast \(fast[i]) reference \(ref[i])")
                    break
                }
                XCTAssertTrue(ref.allSatisfy { $0.isFinite }, "\(format): random weights must be finite")
            }
        }
    }
}
