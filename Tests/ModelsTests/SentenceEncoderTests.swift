import Foundation
import Kernels
import Models
import TestSupport
import XCTest

/// The real MiniLM against sentence-transformers' outputs in shared/reference/minilm.
final class SentenceEncoderTests: XCTestCase {
    static let encoder = Result { try SentenceEncoder(directory: TestPaths.minilm) }

    func sentences() throws -> [String] {
        let text = try String(contentsOf: TestPaths.reference.appendingPathComponent("minilm/sentences.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map {
            let o = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            return o["text"] as! String
        }
    }

    func assertMatchesReference(_ got: [[Float]], _ file: String, line: UInt = #line) throws {
        let reference = try Npy.readFloat32(TestPaths.reference.appendingPathComponent("minilm/\(file)"))
        XCTAssertEqual(got.count, reference.rows, line: line)
        for (i, vector) in got.enumerated() {
            let expected = reference.row(i)
            let cosine = Tolerance.cosine(vector, expected)
            let diff = Tolerance.maxAbsDifference(vector, expected)
            XCTAssertGreaterThanOrEqual(cosine, Tolerance.embeddingCosine, "sentence \(i) cosine", line: line)
            XCTAssertLessThanOrEqual(diff, Tolerance.embeddingMaxAbs, "sentence \(i) max abs difference", line: line)
        }
    }

    func testPoolingAndLengthFromTheModelDirectory() throws {
        let encoder = try Self.encoder.get()
        XCTAssertEqual(encoder.pooling, Pooling(mode: .mean, normalize: true))
        XCTAssertEqual(encoder.maxLength, 256)
        XCTAssertEqual(encoder.dimension, 384)
    }

    func testEmbeddingsMatchSentenceTransformers() throws {
        let encoder = try Self.encoder.get()
        let got = encoder.embed(try sentences(), batch: 32, pool: ThreadPool(threads: 2))
        try assertMatchesReference(got, "embeddings.npy")
    }

    func testBatchSizeAndThreadsDoNotChangeEmbeddings() throws {
        let encoder = try Self.encoder.get()
        let texts = try sentences()
        let one = encoder.embed(texts, batch: 1, pool: ThreadPool(threads: 1))
        let many = encoder.embed(texts, batch: 7, pool: ThreadPool(threads: 2))
        for (a, b) in zip(one, many) { XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(a, b), 1e-6) }
    }

    func testEmbeddingsWithLoRAMatchPEFT() throws {
        let encoder = try Self.encoder.get()
        let adapter = try encoder.loadAdapter(TestPaths.reference.appendingPathComponent("minilm/lora-minilm"))
        XCTAssertEqual(adapter.pairs.count, 12)  // query and value in 6 layers
        XCTAssertEqual(adapter.pairs["encoder.layer.0.attention.self.query"]?.scale, 2)
        let got = encoder.embed(try sentences(), batch: 32, pool: ThreadPool(threads: 2), adapter: adapter)
        try assertMatchesReference(got, "embeddings_lora.npy")
    }

    func testAdapterScaleZeroGivesTheBaseModel() throws {
        let encoder = try Self.encoder.get()
        let adapter = try encoder.loadAdapter(TestPaths.reference.appendingPathComponent("minilm/lora-minilm"))
        adapter.userScale = 0
        let got = encoder.embed(Array(try sentences().prefix(8)), batch: 8, pool: ThreadPool(threads: 1), adapter: adapter)
        let reference = try Npy.readFloat32(TestPaths.reference.appendingPathComponent("minilm/embeddings.npy"))
        for (i, v) in got.enumerated() { XCTAssertGreaterThanOrEqual(Tolerance.cosine(v, reference.row(i)), Tolerance.embeddingCosine) }
    }

    /// bf16 is opt-in because it is further from the reference than float32; this holds it, with
    /// and without the PEFT adapter, to what the README promises for it, and its nearest-neighbour
    /// ranking to the reference's.
    func testBF16EmbeddingsStayCloseToSentenceTransformers() throws {
        try XCTSkipUnless(GemmBF16.isSupported, "this CPU has no AVX-512 BF16")
        let encoder = try SentenceEncoder(directory: TestPaths.minilm, precision: .bf16)
        XCTAssertEqual(encoder.encoder.precision, .bf16)
        let adapter = try encoder.loadAdapter(TestPaths.reference.appendingPathComponent("minilm/lora-minilm"))
        for (lora, file) in [(nil, "embeddings.npy"), (adapter, "embeddings_lora.npy")] {
            let got = encoder.embed(try sentences(), batch: 32, pool: ThreadPool(threads: 2), adapter: lora)
            let reference = try Npy.readFloat32(TestPaths.reference.appendingPathComponent("minilm/\(file)"))
            XCTAssertEqual(got.count, reference.rows)
            for (i, vector) in got.enumerated() {
                XCTAssertGreaterThanOrEqual(Tolerance.cosine(vector, reference.row(i)), Tolerance.bf16EmbeddingCosine,
                                            "\(file) sentence \(i) cosine")
                XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(vector, reference.row(i)), Tolerance.bf16EmbeddingMaxAbs,
                                         "\(file) sentence \(i) max abs difference")
            }
            // Each sentence's nearest other sentence is the reference's, or one the reference scores
            // within 0.002 of it (the adapter's embeddings have neighbours 0.0007 apart).
            let refRows = (0..<reference.rows).map { Array(reference.row($0)) }
            for i in 0..<got.count {
                let others = (0..<got.count).filter { $0 != i }
                let picked = others.max { Tolerance.cosine(got[i], got[$0]) < Tolerance.cosine(got[i], got[$1]) }!
                let best = others.map { Tolerance.cosine(refRows[i], refRows[$0]) }.max()!
                XCTAssertGreaterThanOrEqual(Tolerance.cosine(refRows[i], refRows[picked]), best - 0.002,
                                            "\(file) nearest to sentence \(i)")
            }
        }
    }
}
