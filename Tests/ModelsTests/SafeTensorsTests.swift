import Foundation
import Models
import TestSupport
import XCTest

/// Safetensors round-trips, the real MiniLM file, and hostile files: each bad
/// file gives its own typed error naming the file, never a crash.
final class SafeTensorsTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("dojo-safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    // MARK: helpers

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// A file with raw `header` JSON and `dataSize` zero bytes of data.
    func rawFile(_ header: String, dataSize: Int, name: String = "bad.safetensors") throws -> URL {
        var data = Data()
        let json = Data(header.utf8)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        data.append(Data(count: dataSize))
        let u = url(name)
        try data.write(to: u)
        return u
    }

    /// The SafeTensorsError kind `body` throws, failing on success or another error type.
    func errorKind(_ u: URL, file: StaticString = #filePath, line: UInt = #line) -> SafeTensorsError.Kind? {
        do {
            _ = try SafeTensorsFile(url: u)
            XCTFail("opened a bad file", file: file, line: line)
            return nil
        } catch let error as SafeTensorsError {
            XCTAssertTrue(error.description.contains(u.path), "message names the file: \(error)", file: file, line: line)
            return error.kind
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
            return nil
        }
    }

    static let values: [Float] = [0, 1, -2, 0.5, 3.25, -1e-3, 65504, 1e-7, .infinity, 1234.5678, -0.0, 7]

    // MARK: round-trips

    func testRoundTripF32IsExactAndZeroCopy() throws {
        let u = url("f32.safetensors")
        try SafeTensorsWriter.write([(name: "w", dtype: .f32, shape: [3, 4], values: Self.values),
                                     (name: "b", dtype: .f32, shape: [2], values: [9, 8])],
                                    metadata: ["format": "pt"], to: u)
        let f = try SafeTensorsFile(url: u)
        XCTAssertEqual(f.names, ["b", "w"])
        XCTAssertEqual(f.metadata, ["format": "pt"])
        XCTAssertEqual(f.info("w")?.dtype, .f32)
        XCTAssertEqual(f.info("w")?.shape, [3, 4])
        XCTAssertNil(f.info("nope"))
        let t = try f.floats("w", shape: [3, 4])
        XCTAssertTrue(t.isView)
        XCTAssertEqual(t.count, 12)
        XCTAssertEqual(t.array.map(\.bitPattern), Self.values.map(\.bitPattern))
        XCTAssertEqual(try f.floats("b", shape: [2]).array, [9, 8])
    }

    func testRoundTripF16() throws {
        let u = url("f16.safetensors")
        try SafeTensorsWriter.write([(name: "w", dtype: .f16, shape: [12], values: Self.values)], metadata: nil, to: u)
        let t = try SafeTensorsFile(url: u).floats("w", shape: [12])
        XCTAssertFalse(t.isView)
        let expected = Self.values.map { Float(Float16($0)) }
        XCTAssertEqual(t.array.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(t.array[7], Float(Float16(1e-7)))  // subnormal in F16
        XCTAssertNotEqual(t.array[7], 0)
    }

    func testHalfConversionMatchesFloat16ForEveryBitPattern() {
        for bits in 0 ... UInt16.max {
            let mine = halfToFloat(bits), swift = Float(Float16(bitPattern: bits))
            if swift.isNaN { XCTAssertTrue(mine.isNaN) } else { XCTAssertEqual(mine.bitPattern, swift.bitPattern, "\(bits)") }
        }
    }

    func testRoundTripBF16() throws {
        let u = url("bf16.safetensors")
        try SafeTensorsWriter.write([(name: "w", dtype: .bf16, shape: [2, 6], values: Self.values)], metadata: nil, to: u)
        let t = try SafeTensorsFile(url: u).floats("w", shape: [2, 6])
        // bf16 keeps 8 significant bits: round to nearest errs by at most half an ulp, ≤ 2^-8 relative.
        for (got, want) in zip(t.array, Self.values) {
            if want.isInfinite { XCTAssertEqual(got, want); continue }
            XCTAssertLessThanOrEqual(abs(got - want), abs(want) / 256, "\(want)")
        }
        XCTAssertEqual(t.array[1], 1)
        XCTAssertEqual(t.array[3], 0.5)
    }

    func testEmptyTensorAndScalar() throws {
        let u = url("edge.safetensors")
        try SafeTensorsWriter.write([(name: "empty", dtype: .f32, shape: [0, 4], values: []),
                                     (name: "scalar", dtype: .f32, shape: [], values: [5])], metadata: nil, to: u)
        let f = try SafeTensorsFile(url: u)
        XCTAssertEqual(try f.floats("empty", shape: [0, 4]).count, 0)
        XCTAssertEqual(try f.floats("scalar", shape: []).array, [5])
    }

    func testMissingTensorAndShapeMismatchNameTheTensor() throws {
        let u = url("m.safetensors")
        try SafeTensorsWriter.write([(name: "w", dtype: .f32, shape: [2, 3], values: [1, 2, 3, 4, 5, 6])], metadata: nil, to: u)
        let f = try SafeTensorsFile(url: u)
        XCTAssertThrowsError(try f.floats("v", shape: [2, 3])) { error in
            let e = error as? SafeTensorsError
            XCTAssertEqual(e?.kind, .missingTensor)
            XCTAssertTrue("\(error)".contains("'v'"), "\(error)")
        }
        XCTAssertThrowsError(try f.floats("w", shape: [3, 2])) { error in
            XCTAssertEqual((error as? SafeTensorsError)?.kind, .shapeMismatch)
            XCTAssertTrue("\(error)".contains("'w'") && "\(error)".contains("[2, 3]") && "\(error)".contains("[3, 2]"), "\(error)")
        }
    }

    func testUnalignedF32IsCopied() throws {
        // A 2-byte tensor first pushes the F32 data off 4-byte alignment.
        let header = #"{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"F32","shape":[2],"data_offsets":[2,10]}}"#
        var data = Data()
        let json = Data(header.utf8)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        data.append(contentsOf: [0x00, 0x3C])  // F16 1.0
        for v: Float in [1.5, -2] { withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        let u = url("unaligned.safetensors")
        try data.write(to: u)
        let f = try SafeTensorsFile(url: u)
        XCTAssertEqual(try f.floats("a", shape: [1]).array, [1])
        XCTAssertEqual(try f.floats("b", shape: [2]).array, [1.5, -2])
    }

    func testIntegerTensorParsesButIsNotFloats() throws {
        let u = try rawFile(#"{"ids":{"dtype":"I64","shape":[1,2],"data_offsets":[0,16]}}"#, dataSize: 16)
        let f = try SafeTensorsFile(url: u)
        XCTAssertEqual(f.info("ids")?.dtype, .i64)
        XCTAssertEqual(f.rawBytes("ids")?.count, 16)
        XCTAssertThrowsError(try f.floats("ids", shape: [1, 2])) { XCTAssertEqual(($0 as? SafeTensorsError)?.kind, .notFloat) }
    }

    // MARK: the real model

    func testRealMiniLM() throws {
        let u = TestPaths.minilm.appendingPathComponent("model.safetensors")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: u.path), "MiniLM not installed; run ops/setup")
        let f = try SafeTensorsFile(url: u)
        XCTAssertEqual(f.info("embeddings.word_embeddings.weight")?.shape, [30522, 384])
        XCTAssertEqual(f.info("embeddings.position_ids")?.dtype, .i64)
        XCTAssertTrue(f.names.contains("encoder.layer.5.output.LayerNorm.weight"))
        let w = try f.floats("embeddings.word_embeddings.weight", shape: [30522, 384])
        XCTAssertTrue(w.isView)
        XCTAssertTrue(w.buffer.allSatisfy { $0.isFinite })
        let gamma = try f.floats("embeddings.LayerNorm.weight", shape: [384])
        XCTAssertTrue(gamma.buffer.contains { $0 != 0 })
    }

    // MARK: hostile files

    func testEmptyFile() throws {
        let u = url("empty.safetensors")
        try Data().write(to: u)
        XCTAssertThrowsError(try SafeTensorsFile(url: u)) { error in
            XCTAssertEqual((error as? MappedFileError)?.kind, .empty)
            XCTAssertTrue("\(error)".contains(u.path), "\(error)")
        }
    }

    func testMissingFile() {
        let u = url("absent.safetensors")
        XCTAssertThrowsError(try SafeTensorsFile(url: u)) { error in
            XCTAssertEqual((error as? MappedFileError)?.kind, .missing)
            XCTAssertTrue("\(error)".contains(u.path), "\(error)")
        }
    }

    func testShorterThanHeaderLength() throws {
        let u = url("tiny.safetensors")
        try Data([1, 2, 3]).write(to: u)
        XCTAssertEqual(errorKind(u), .truncated)
    }

    func testTruncatedFile() throws {
        let good = try SafeTensorsWriter.data([(name: "w", dtype: .f32, shape: [4, 4], values: Array(repeating: 1, count: 16))], metadata: nil)
        let u = url("truncated.safetensors")
        try good.prefix(good.count - 10).write(to: u)
        XCTAssertEqual(errorKind(u), .offsetsOutsideFile)
        let u2 = url("truncated-header.safetensors")
        try good.prefix(20).write(to: u2)
        XCTAssertEqual(errorKind(u2), .headerOutsideFile)
    }

    func testHeaderLengthBeyondFile() throws {
        var data = Data()
        withUnsafeBytes(of: UInt64(1000).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data("{}".utf8))
        let u = url("len.safetensors")
        try data.write(to: u)
        XCTAssertEqual(errorKind(u), .headerOutsideFile)
    }

    func testHugeHeaderLength() throws {
        var data = Data()
        withUnsafeBytes(of: UInt64.max.littleEndian) { data.append(contentsOf: $0) }
        data.append(Data("{}".utf8))
        let u = url("huge.safetensors")
        try data.write(to: u)
        XCTAssertEqual(errorKind(u), .headerTooLarge)
    }

    func testOffsetsOutsideData() throws {
        let u = try rawFile(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, dataSize: 8)
        XCTAssertEqual(errorKind(u), .offsetsOutsideFile)
        let u2 = try rawFile(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, dataSize: 8, name: "rev.safetensors")
        XCTAssertEqual(errorKind(u2), .offsetsOutsideFile)
        let u3 = try rawFile(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#, dataSize: 8, name: "neg.safetensors")
        XCTAssertEqual(errorKind(u3), .offsetsOutsideFile)
    }

    func testOverlappingTensors() throws {
        let u = try rawFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                            dataSize: 12)
        XCTAssertEqual(errorKind(u), .overlap)
    }

    func testUnknownDType() throws {
        let u = try rawFile(#"{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}}"#, dataSize: 8)
        XCTAssertEqual(errorKind(u), .unknownDType)
    }

    func testWrongByteSize() throws {
        let u = try rawFile(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataSize: 8)
        XCTAssertEqual(errorKind(u), .sizeMismatch)
    }

    func testShapeOverflowAndBadShapes() throws {
        let big = #"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}"#
        XCTAssertEqual(errorKind(try rawFile(big, dataSize: 8, name: "o.safetensors")), .invalidShape)
        let neg = #"{"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#
        XCTAssertEqual(errorKind(try rawFile(neg, dataSize: 8, name: "n.safetensors")), .invalidShape)
        let rank = #"{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}"#
        XCTAssertEqual(errorKind(try rawFile(rank, dataSize: 8, name: "r.safetensors")), .invalidShape)
        let frac = #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#
        XCTAssertEqual(errorKind(try rawFile(frac, dataSize: 8, name: "f.safetensors")), .invalidShape)
        let bool = #"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#
        XCTAssertEqual(errorKind(try rawFile(bool, dataSize: 8, name: "b.safetensors")), .invalidShape)
    }

    func testNonJSONHeader() throws {
        XCTAssertEqual(errorKind(try rawFile("this is not json", dataSize: 0)), .invalidHeader)
        XCTAssertEqual(errorKind(try rawFile("[1,2,3]", dataSize: 0, name: "arr.safetensors")), .invalidHeader)
        XCTAssertEqual(errorKind(try rawFile(#"{"w":5}"#, dataSize: 0, name: "entry.safetensors")), .invalidHeader)
        XCTAssertEqual(errorKind(try rawFile(#"{"__metadata__":{"a":1}}"#, dataSize: 0, name: "meta.safetensors")), .invalidHeader)
        XCTAssertEqual(errorKind(try rawFile(String(repeating: "[", count: 100_000), dataSize: 0, name: "deep.safetensors")), .invalidHeader)
    }

    func testRandomCorruptionNeverCrashes() throws {
        let good = try SafeTensorsWriter.data([(name: "a", dtype: .f32, shape: [3, 2], values: [1, 2, 3, 4, 5, 6]),
                                               (name: "b", dtype: .bf16, shape: [2], values: [1, 2])], metadata: ["k": "v"])
        var rng = SystemRandomNumberGenerator()
        let u = url("fuzz.safetensors")
        for _ in 0 ..< 300 {
            var d = good
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &rng) {
                d[Int.random(in: 0 ..< d.count, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng)
            }
            if Bool.random(using: &rng) { d = d.prefix(Int.random(in: 1 ... d.count, using: &rng)) }
            try d.write(to: u)
            if let f = try? SafeTensorsFile(url: u) {
                for n in f.names { if let i = f.info(n) { _ = try? f.floats(n, shape: i.shape) } }
            }
        }
    }
}
