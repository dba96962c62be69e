import Foundation
import Models
import TestSupport
import XCTest

/// The GGUF reader: round trips through `GGUFWriter`, hostile files, and the
/// real SmolLM2 file.
final class GGUFReaderTests: XCTestCase {
    // MARK: Round trip

    func testRoundTripEveryMetadataKindAndTensorType() throws {
        var w = GGUFWriter()
        w.add("general.architecture", "llama")
        w.add("u8", .uint8(200))
        w.add("i8", .int8(-100))
        w.add("u16", .uint16(60000))
        w.add("i16", .int16(-30000))
        w.add("u32", .uint32(4_000_000_000))
        w.add("i32", .int32(-2_000_000_000))
        w.add("u64", .uint64(1 << 40))
        w.add("i64", .int64(-(1 << 40)))
        w.add("f32", .float32(1.5))
        w.add("f64", .float64(-2.25))
        w.add("yes", .bool(true))
        w.add("unicode", "héllo ▁ 😀")
        w.add("tokens", ["a", "", "<|im_start|>"])
        w.add("scores", .array(.float32([0.5, -1])))
        w.add("types", .array(.int32([1, 3, 6])))
        w.add("nested", .array(.array([.uint8([1, 2]), .string(["x"]), .array([.bool([true, false])])])))
        w.add("empty", .array(.uint64([])))

        let f32 = (0..<8).map { Float($0) * 0.5 }
        w.addTensor("a.f32", dims: [4, 2], floats: f32)
        let f16: [UInt8] = [0x00, 0x3C, 0x00, 0xC0]  // 1.0, -2.0
        w.addTensor("b.f16", type: .f16, dims: [2], data: f16)
        var q8 = [UInt8](repeating: 0, count: 34)
        q8[0] = 0x00; q8[1] = 0x38  // d = 0.5
        for j in 0..<32 { q8[2 + j] = UInt8(bitPattern: Int8(j - 16)) }
        w.addTensor("c.q8_0", type: .q8_0, dims: [32, 1], data: q8)
        var q41 = [UInt8](repeating: 0, count: 40)
        q41[1] = 0x3C  // d = 1 in the first block
        q41[3] = 0xBC  // m = -1
        q41[4] = 0x21  // values 0 and 16: nibbles 1 and 2
        w.addTensor("d.q4_1", type: .q4_1, dims: [64], data: q41)

        for version: UInt32 in [2, 3] {
            w.version = version
            let url = try w.writeTemporary("roundtrip")
            defer { try? FileManager.default.removeItem(at: url) }
            let g = try GGUFFile(path: url.path)
            XCTAssertEqual(g.version, Int(version))
            XCTAssertEqual(try g.architecture, "llama")
            XCTAssertEqual(g.keys.count, 18)
            XCTAssertEqual(try g.int("u8"), 200)
            XCTAssertEqual(try g.int("i8"), -100)
            XCTAssertEqual(try g.int("u16"), 60000)
            XCTAssertEqual(try g.int("i16"), -30000)
            XCTAssertEqual(try g.int("u32"), 4_000_000_000)
            XCTAssertEqual(try g.int("i32"), -2_000_000_000)
            XCTAssertEqual(try g.int("u64"), 1 << 40)
            XCTAssertEqual(try g.int("i64"), -(1 << 40))
            XCTAssertEqual(try g.float("f32"), 1.5)
            XCTAssertEqual(try g.float("f64"), -2.25)
            XCTAssertEqual(g.value("f64"), .float64(-2.25))
            XCTAssertEqual(try g.bool("yes"), true)
            XCTAssertEqual(try g.bool("no", default: false), false)
            XCTAssertEqual(try g.string("unicode"), "héllo ▁ 😀")
            XCTAssertEqual(try g.strings("tokens"), ["a", "", "<|im_start|>"])
            XCTAssertEqual(try g.floats("scores"), [0.5, -1])
            XCTAssertEqual(try g.ints("types"), [1, 3, 6])
            XCTAssertEqual(try g.array("nested"),
                           .array([.uint8([1, 2]), .string(["x"]), .array([.bool([true, false])])]))
            XCTAssertEqual(try g.array("empty").count, 0)
            XCTAssertEqual(try g.int("missing", default: 7), 7)
            XCTAssertEqual(g.alignment, 32)

            XCTAssertEqual(g.tensorNames, ["a.f32", "b.f16", "c.q8_0", "d.q4_1"])
            let a = try g.tensor(named: "a.f32")
            XCTAssertEqual(a.type, .f32)
            XCTAssertEqual(a.dims, [4, 2])
            XCTAssertEqual(a.data.count, 32)
            XCTAssertEqual(a.info.offset % 32, 0)
            XCTAssertEqual(try Dequantize.tensor(a), f32)
            XCTAssertEqual(try Dequantize.tensor(g.tensor(named: "b.f16")), [1, -2])
            XCTAssertEqual(try Dequantize.tensor(g.tensor(named: "c.q8_0")), (0..<32).map { Float($0 - 16) * 0.5 })
            let d = try Dequantize.tensor(g.tensor(named: "d.q4_1"))
            XCTAssertEqual(d[0], 0)     // 1 * 1 - 1
            XCTAssertEqual(d[16], 1)    // 2 * 1 - 1
            XCTAssertEqual(d[1], -1)
            XCTAssertEqual(d[32], 0)    // second block: d = m = 0
            XCTAssertNoThrow(try g.tensor(named: "c.q8_0", dims: [32, 1], types: [.q8_0, .q4_1]))
        }
    }

    func testCustomAlignment() throws {
        var w = GGUFWriter(alignment: 64)
        w.addTensor("x", dims: [3], floats: [1, 2, 3])
        w.addTensor("y", dims: [1], floats: [4])
        let g = try GGUFFile(bytes: w.bytes())
        XCTAssertEqual(g.alignment, 64)
        XCTAssertEqual(g.dataOffset % 64, 0)
        XCTAssertEqual(try g.tensor(named: "y").info.relativeOffset, 64)
        XCTAssertEqual(try Dequantize.tensor(g.tensor(named: "y")), [4])
    }

    func testAccessorErrorsNameTheKeyOrTensor() throws {
        var w = GGUFWriter()
        w.add("s", "text")
        w.addTensor("t", dims: [2], floats: [1, 2])
        let g = try GGUFFile(bytes: w.bytes())
        XCTAssertThrowsError(try g.int("s")) { e in
            XCTAssertEqual((e as? GGUFError)?.kind, .wrongValueType)
            XCTAssertTrue("\(e)".contains("'s'"), "\(e)")
        }
        XCTAssertThrowsError(try g.string("nope")) { e in
            XCTAssertEqual((e as? GGUFError)?.kind, .missingKey)
            XCTAssertTrue("\(e)".contains("'nope'"))
        }
        XCTAssertThrowsError(try g.architecture) { e in XCTAssertEqual((e as? GGUFError)?.kind, .missingKey) }
        XCTAssertThrowsError(try g.tensor(named: "u")) { e in
            XCTAssertEqual((e as? GGUFError)?.kind, .missingTensor)
            XCTAssertTrue("\(e)".contains("'u'"))
        }
        XCTAssertThrowsError(try g.tensor(named: "t", dims: [3])) { e in
            XCTAssertEqual((e as? GGUFError)?.kind, .tensorMismatch)
            XCTAssertTrue("\(e)".contains("[2]") && "\(e)".contains("[3]"), "\(e)")
        }
        XCTAssertThrowsError(try g.tensor(named: "t", dims: [2], types: [.q4_1])) { e in
            XCTAssertEqual((e as? GGUFError)?.kind, .unsupportedTensorType)
        }
    }

    // MARK: Hostile files

    private func assertRejects(_ bytes: [UInt8], _ kind: GGUFError.Kind, mentioning: String? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try GGUFFile(bytes: bytes, name: "hostile.gguf"), file: file, line: line) { e in
            guard let g = e as? GGUFError else { return XCTFail("not a GGUFError: \(e)", file: file, line: line) }
            XCTAssertEqual(g.kind, kind, "\(g)", file: file, line: line)
            XCTAssertTrue(g.description.contains("hostile.gguf"), "\(g)", file: file, line: line)
            if let m = mentioning { XCTAssertTrue(g.description.contains(m), "\(g) should mention \(m)", file: file, line: line) }
        }
    }

    private func header(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) -> [UInt8] {
        var b = Array("GGUF".utf8)
        GGUFWriter.append(version, to: &b)
        GGUFWriter.append(tensors, to: &b)
        GGUFWriter.append(kvs, to: &b)
        return b
    }

    private var validFile: [UInt8] {
        var w = GGUFWriter()
        w.add("general.architecture", "llama")
        w.add("tokens", ["a", "b", "c"])
        w.addTensor("w", dims: [8], floats: Array(repeating: 1, count: 8))
        return w.bytes()
    }

    func testUnopenablePaths() {
        for path in ["/nonexistent/model.gguf", "/tmp"] {
            XCTAssertThrowsError(try GGUFFile(path: path)) { e in
                XCTAssertEqual((e as? GGUFError)?.kind, .cannotOpen)
                XCTAssertTrue("\(e)".contains(path), "\(e)")
            }
        }
    }

    func testEmptyAndTinyFiles() {
        assertRejects([], .truncated)
        assertRejects(Array("GG".utf8), .truncated)
        assertRejects(Array("GGUF".utf8), .truncated, mentioning: "version")
    }

    func testBadMagic() {
        var b = validFile
        b[0] = UInt8(ascii: "X")
        assertRejects(b, .badMagic, mentioning: "not a GGUF file")
        assertRejects(Array("{\"json\": true}".utf8), .badMagic)
    }

    func testUnsupportedVersions() {
        assertRejects(header(version: 1, tensors: 0, kvs: 0), .unsupportedVersion, mentioning: "version 1")
        assertRejects(header(version: 4, tensors: 0, kvs: 0), .unsupportedVersion, mentioning: "version 4")
        assertRejects(header(version: 3 << 24, tensors: 0, kvs: 0), .unsupportedVersion, mentioning: "big-endian")
    }

    func testEveryTruncationIsAnErrorNotACrash() {
        let b = validFile
        for n in 0..<b.count where n != b.count {
            XCTAssertThrowsError(try GGUFFile(bytes: Array(b[0..<n])), "prefix of \(n) bytes") { e in
                XCTAssertTrue(e is GGUFError)
            }
        }
        XCTAssertNoThrow(try GGUFFile(bytes: b))
    }

    func testHugeCounts() {
        assertRejects(header(tensors: 0, kvs: 1 << 40), .limitExceeded, mentioning: "metadata entries")
        assertRejects(header(tensors: UInt64.max, kvs: 0), .limitExceeded, mentioning: "tensors")
        // An array claiming 2^40 elements.
        var b = header(tensors: 0, kvs: 1)
        GGUFWriter.appendString("big", to: &b)
        GGUFWriter.append(GGUFValueType.array.rawValue, to: &b)
        GGUFWriter.append(GGUFValueType.uint32.rawValue, to: &b)
        GGUFWriter.append(UInt64(1) << 40, to: &b)
        b += [UInt8](repeating: 0, count: 64)
        assertRejects(b, .limitExceeded, mentioning: "'big'")
        // Arrays nested past the depth limit.
        var n = header(tensors: 0, kvs: 1)
        GGUFWriter.appendString("deep", to: &n)
        GGUFWriter.append(GGUFValueType.array.rawValue, to: &n)
        for _ in 0..<10 {
            GGUFWriter.append(GGUFValueType.array.rawValue, to: &n)
            GGUFWriter.append(UInt64(1), to: &n)
        }
        n += [UInt8](repeating: 0, count: 64)
        assertRejects(n, .limitExceeded, mentioning: "deeper")
    }

    func testStringLengthBeyondFile() {
        var b = header(tensors: 0, kvs: 1)
        GGUFWriter.appendString("k", to: &b)
        GGUFWriter.append(GGUFValueType.string.rawValue, to: &b)
        GGUFWriter.append(UInt64(1000), to: &b)
        b += Array("short".utf8)
        assertRejects(b, .truncated, mentioning: "'k'")
        // Over the 1 MB cap regardless of the file size.
        var c = header(tensors: 0, kvs: 1)
        GGUFWriter.append(UInt64(1) << 62, to: &c)
        assertRejects(c, .limitExceeded, mentioning: "limit")
    }

    func testInvalidValueTypeAndDuplicateKey() {
        var b = header(tensors: 0, kvs: 1)
        GGUFWriter.appendString("k", to: &b)
        GGUFWriter.append(UInt32(13), to: &b)
        b += [0, 0, 0, 0]
        assertRejects(b, .invalidValueType, mentioning: "'k'")

        var w = GGUFWriter()
        w.add("k", .uint8(1))
        w.add("k", .uint8(2))
        assertRejects(w.bytes(), .duplicateKey, mentioning: "'k'")
    }

    func testTensorOutsideTheFile() {
        var w = GGUFWriter()
        w.addRawTensor(GGUFWriter.rawTensor("far", typeID: 0, dims: [8], data: [UInt8](repeating: 0, count: 32),
                                            offset: 1 << 20))
        assertRejects(w.bytes(), .tensorOutOfBounds, mentioning: "'far'")

        // Offset near UInt64.max: the end overflows.
        var v = GGUFWriter()
        v.addRawTensor(GGUFWriter.rawTensor("wrap", typeID: 0, dims: [8], data: [UInt8](repeating: 0, count: 32),
                                            offset: UInt64.max - 31))
        assertRejects(v.bytes(), .tensorOutOfBounds, mentioning: "'wrap'")

        // Dims whose byte size is larger than the file.
        var u = GGUFWriter()
        u.addRawTensor(GGUFWriter.rawTensor("huge", typeID: 0, dims: [1 << 20, 1 << 20], data: []))
        assertRejects(u.bytes(), .tensorOutOfBounds, mentioning: "'huge'")

        // Dims whose element count overflows.
        var o = GGUFWriter()
        o.addRawTensor(GGUFWriter.rawTensor("ovf", typeID: 0, dims: [1 << 36, 1 << 36, 1 << 36], data: []))
        assertRejects(o.bytes(), .badTensorShape, mentioning: "'ovf'")

        // A misaligned offset.
        var m = GGUFWriter()
        m.addRawTensor(GGUFWriter.rawTensor("odd", typeID: 0, dims: [1], data: [0, 0, 0, 0], offset: 4))
        assertRejects(m.bytes(), .badAlignment, mentioning: "'odd'")
    }

    func testUnsupportedTensorTypeIsNamed() {
        var w = GGUFWriter()
        w.addRawTensor(GGUFWriter.rawTensor("blk.0.attn_q.weight", typeID: 16, dims: [256], data: [UInt8](repeating: 0, count: 66)))
        assertRejects(w.bytes(), .unsupportedTensorType, mentioning: "IQ2_XXS")
        var v = GGUFWriter()
        v.addRawTensor(GGUFWriter.rawTensor("t", typeID: 999, dims: [1], data: [0, 0, 0, 0]))
        assertRejects(v.bytes(), .unsupportedTensorType, mentioning: "999")
    }

    func testBadRankShapeAndDuplicateTensor() {
        var w = GGUFWriter()
        w.addRawTensor(GGUFWriter.rawTensor("r5", typeID: 0, dims: [1, 1, 1, 1, 1], data: [0, 0, 0, 0]))
        assertRejects(w.bytes(), .badTensorRank, mentioning: "'r5'")
        var z = GGUFWriter()
        z.addRawTensor(GGUFWriter.rawTensor("r0", typeID: 0, dims: [], data: [0, 0, 0, 0]))
        assertRejects(z.bytes(), .badTensorRank)
        var q = GGUFWriter()
        q.addRawTensor(GGUFWriter.rawTensor("q", typeID: GGMLType.q4_0.rawValue, dims: [33], data: [UInt8](repeating: 0, count: 36)))
        assertRejects(q.bytes(), .badTensorShape, mentioning: "block size 32")
        var d = GGUFWriter()
        d.addTensor("t", dims: [1], floats: [1])
        d.addTensor("t", dims: [1], floats: [2])
        assertRejects(d.bytes(), .duplicateTensor, mentioning: "'t'")
        var a = GGUFWriter()
        a.add("general.alignment", .uint32(24))
        assertRejects(a.bytes(), .badAlignment, mentioning: "general.alignment")
    }

    func testRandomCorruptionNeverCrashes() {
        var rng = SplitMix64(seed: 7)
        let good = validFile
        for _ in 0..<2000 {
            var b = good
            for _ in 0..<Int(rng.next() % 4 + 1) {
                b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            _ = try? GGUFFile(bytes: b)
        }
    }

    // MARK: The real model

    func testSmolLM2File() throws {
        let path = TestPaths.smollm2.path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "run ops/setup to fetch \(path)")
        let g = try GGUFFile(path: path)
        XCTAssertEqual(g.version, 3)
        XCTAssertEqual(try g.architecture, "llama")
        XCTAssertEqual(g.keys.count, 33)
        XCTAssertEqual(try g.int("llama.block_count"), 30)
        XCTAssertEqual(try g.int("llama.embedding_length"), 576)
        XCTAssertEqual(try g.int("llama.feed_forward_length"), 1536)
        XCTAssertEqual(try g.int("llama.attention.head_count"), 9)
        XCTAssertEqual(try g.int("llama.attention.head_count_kv"), 3)
        XCTAssertEqual(try g.float("llama.rope.freq_base"), 100_000)
        XCTAssertEqual(try g.string("tokenizer.ggml.model"), "gpt2")
        XCTAssertEqual(try g.string("tokenizer.ggml.pre"), "smollm")
        XCTAssertEqual(try g.strings("tokenizer.ggml.tokens").count, 49152)
        XCTAssertEqual(try g.strings("tokenizer.ggml.merges").count, 48900)

        // 272 tensors: the Q8_0 embedding (tied output), 30 blocks of seven
        // Q4_1 projections and two F32 norms, and the F32 output norm.
        XCTAssertEqual(g.tensorInfos.count, 272)
        var byType: [GGMLType: Int] = [:]
        for t in g.tensorInfos { byType[t.type, default: 0] += 1 }
        XCTAssertEqual(byType, [.q4_1: 210, .f32: 61, .q8_0: 1])
        XCTAssertNil(g.info(named: "output.weight"))
        let expect: [(String, GGMLType, [Int])] = [
            ("token_embd.weight", .q8_0, [576, 49152]),
            ("output_norm.weight", .f32, [576]),
            ("blk.0.attn_norm.weight", .f32, [576]),
            ("blk.0.attn_q.weight", .q4_1, [576, 576]),
            ("blk.0.attn_k.weight", .q4_1, [576, 192]),
            ("blk.0.attn_v.weight", .q4_1, [576, 192]),
            ("blk.0.attn_output.weight", .q4_1, [576, 576]),
            ("blk.0.ffn_norm.weight", .f32, [576]),
            ("blk.0.ffn_gate.weight", .q4_1, [576, 1536]),
            ("blk.0.ffn_up.weight", .q4_1, [576, 1536]),
            ("blk.29.ffn_down.weight", .q4_1, [1536, 576]),
        ]
        for (name, type, dims) in expect {
            let t = try g.tensor(named: name, dims: dims, types: [type])
            XCTAssertEqual(t.data.count, type.byteCount(elements: dims.reduce(1, *)))
        }
        // The first tensor lies at the start of the data section.
        XCTAssertEqual(try g.tensor(named: "token_embd.weight").info.offset, g.dataOffset)
        // The norm weights dequantise to sane values.
        let norm = try Dequantize.tensor(g.tensor(named: "output_norm.weight"))
        XCTAssertTrue(norm.allSatisfy { $0.isFinite && abs($0) < 100 })
    }
}

/// A small deterministic generator for the fuzz loop.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
