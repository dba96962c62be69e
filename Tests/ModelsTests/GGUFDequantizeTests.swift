import Foundation
import Models
import TestSupport
import XCTest

/// The reference dequantisers against the `gguf` Python package's.
///
/// Fixtures (Tests/ModelsTests/Fixtures/quant/<TYPE>.blocks and <TYPE>.f32)
/// were made once by ops/fixtures/make_quant_fixtures.py with gguf-py 0.19.0
/// and numpy: blocks from `gguf.quants.quantize` of seeded normal values for
/// the types gguf-py can quantise, and seeded random bytes with finite f16
/// super-block scales for the K-quants (gguf-py only dequantises those); the
/// .f32 files hold `gguf.quants.dequantize` of the same blocks. The script's
/// docstring tells how to regenerate them. Tests need no Python.
/// smollm2_rows.f32 holds gguf-py's floats for two rows each of SmolLM2's
/// blk.0.attn_q.weight (Q4_1) and token_embd.weight (Q8_0).
final class GGUFDequantizeTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/quant")

    func testBlockSizesMatchGGML() {
        let expected: [GGMLType: (Int, Int, UInt32)] = [
            .f32: (1, 4, 0), .f16: (1, 2, 1), .bf16: (1, 2, 30),
            .q4_0: (32, 18, 2), .q4_1: (32, 20, 3), .q5_0: (32, 22, 6), .q5_1: (32, 24, 7),
            .q8_0: (32, 34, 8), .q8_1: (32, 36, 9),
            .q2_K: (256, 84, 10), .q3_K: (256, 110, 11), .q4_K: (256, 144, 12),
            .q5_K: (256, 176, 13), .q6_K: (256, 210, 14), .q8_K: (256, 292, 15),
        ]
        XCTAssertEqual(expected.count, GGMLType.allCases.count)
        for (t, (block, bytes, id)) in expected {
            XCTAssertEqual(t.blockSize, block, "\(t)")
            XCTAssertEqual(t.bytesPerBlock, bytes, "\(t)")
            XCTAssertEqual(t.rawValue, id, "\(t)")
        }
        XCTAssertEqual(GGMLType.q4_K.byteCount(elements: 512), 288)
        XCTAssertNil(GGMLType.q4_K.byteCount(elements: 100))
        XCTAssertEqual(GGMLType.name(forID: 23), "IQ4_XS")
    }

    private func check(_ name: String, _ type: GGMLType, file: StaticString = #filePath, line: UInt = #line) throws {
        let blocks = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent("\(name).blocks")))
        let raw = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent("\(name).f32")))
        let expected = stride(from: 0, to: raw.count, by: 4).map { i in
            Float(bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24)
        }
        let got = try Dequantize.bytes(blocks, as: type)
        XCTAssertEqual(got.count, expected.count, name, file: file, line: line)
        var mismatches = 0
        for (i, (g, e)) in zip(got, expected).enumerated() where !(g.bitPattern == e.bitPattern || (g.isNaN && e.isNaN)) {
            if mismatches < 5 { XCTFail("\(name)[\(i)]: got \(g), gguf-py \(e)", file: file, line: line) }
            mismatches += 1
        }
        XCTAssertEqual(mismatches, 0, "\(name): \(mismatches) values differ from gguf-py", file: file, line: line)
    }

    // Bit-exact: same float operations in the same order as ggml and gguf-py.
    func testF32() throws { try check("F32", .f32) }
    func testF16() throws { try check("F16", .f16); try check("F16_bits", .f16) }
    func testBF16() throws { try check("BF16", .bf16); try check("BF16_bits", .bf16) }
    func testQ4_0() throws { try check("Q4_0", .q4_0) }
    func testQ4_1() throws { try check("Q4_1", .q4_1) }
    func testQ5_0() throws { try check("Q5_0", .q5_0) }
    func testQ5_1() throws { try check("Q5_1", .q5_1) }
    func testQ8_0() throws { try check("Q8_0", .q8_0) }
    func testQ4_K() throws { try check("Q4_K", .q4_K) }
    func testQ5_K() throws { try check("Q5_K", .q5_K) }
    func testQ6_K() throws { try check("Q6_K", .q6_K) }

    func testRealSmolLM2RowsMatchGGUFPy() throws {
        let path = TestPaths.smollm2.path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "run ops/setup to fetch \(path)")
        let g = try GGUFFile(path: path)
        let raw = try [UInt8](Data(contentsOf: Self.fixtures.appendingPathComponent("smollm2_rows.f32")))
        let expected = stride(from: 0, to: raw.count, by: 4).map { i in
            Float(bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24)
        }
        XCTAssertEqual(expected.count, 4 * 576)
        var got: [Float] = []
        for name in ["blk.0.attn_q.weight", "token_embd.weight"] {
            let t = try g.tensor(named: name)
            var rows = [Float](repeating: 0, count: 2 * 576)
            try Dequantize.row(t.type, t.pointer, count: 2 * 576, into: &rows)
            got += rows
        }
        XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern))
    }

    func testHalfConversionEdgeCases() {
        XCTAssertEqual(Dequantize.halfToFloat(0x3C00), 1)
        XCTAssertEqual(Dequantize.halfToFloat(0xC000), -2)
        XCTAssertEqual(Dequantize.halfToFloat(0x7BFF), 65504)
        XCTAssertEqual(Dequantize.halfToFloat(0x0001), 5.9604645e-08)  // smallest subnormal
        XCTAssertEqual(Dequantize.halfToFloat(0x03FF), 6.097555e-05)   // largest subnormal
        XCTAssertEqual(Dequantize.halfToFloat(0x8000).sign, .minus)
        XCTAssertEqual(Dequantize.halfToFloat(0x7C00), .infinity)
        XCTAssertTrue(Dequantize.halfToFloat(0x7E00).isNaN)
        XCTAssertEqual(Dequantize.bf16ToFloat(0x3F80), 1)
    }

    func testUnsupportedTypeIsNamed() {
        XCTAssertThrowsError(try Dequantize.bytes([UInt8](repeating: 0, count: 84), as: .q2_K)) { e in
            XCTAssertTrue("\(e)".contains("Q2_K"), "\(e)")
        }
    }
}
