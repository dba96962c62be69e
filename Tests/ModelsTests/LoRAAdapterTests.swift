import Foundation
import Kernels
import Models
import TestSupport
import XCTest

final class LoRAAdapterTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TinyBert.temporaryDirectory("lora") }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    /// Applying the adapter unmerged equals running a model whose weights were merged: W + (alpha/r)·B·A.
    func testUnmergedAdapterEqualsMergedWeights() throws {
        let config = TinyBert.config()
        let modelDir = try TinyBert.write(to: directory.appendingPathComponent("model"), config: config)
        let adapterDir = try TinyBert.writeAdapter(to: directory.appendingPathComponent("adapter"), config: config,
                                                   rank: 4, alpha: 8)
        let base = try SentenceEncoder(directory: modelDir)
        let adapter = try base.loadAdapter(adapterDir)

        // Merge by hand into a copy of the checkpoint.
        let baseFile = try SafeTensorsFile(url: modelDir.appendingPathComponent("model.safetensors"))
        var tensors: [(name: String, dtype: TensorDType, shape: [Int], values: [Float])] = []
        for name in baseFile.names {
            let info = baseFile.info(name)!
            let t = try baseFile.floats(name, shape: info.shape)
            var values = Array(UnsafeBufferPointer(start: t.pointer, count: t.count))
            let module = String(name.dropLast(".weight".count))
            if name.hasSuffix(".weight"), let pair = adapter.pair(for: module) {
                let out = info.shape[0], inF = info.shape[1], r = pair.rank
                for o in 0..<out {
                    for i in 0..<inF {
                        var delta: Float = 0
                        for j in 0..<r { delta += pair.b.pointer[o * r + j] * pair.a.pointer[j * inF + i] }
                        values[o * inF + i] += pair.scale * delta
                    }
                }
            }
            tensors.append((name, .f32, info.shape, values))
        }
        let mergedDir = directory.appendingPathComponent("merged")
        try TinyBert.write(to: mergedDir, config: config)
        try SafeTensorsWriter.write(tensors, metadata: nil, to: mergedDir.appendingPathComponent("model.safetensors"))
        let merged = try SentenceEncoder(directory: mergedDir)

        let texts = ["the party shall pay the fees.", "notice", "a, b, a b the party", ""]
        let pool = ThreadPool(threads: 2)
        let unmerged = base.embed(texts, batch: 3, pool: pool, adapter: adapter)
        let expected = merged.embed(texts, batch: 3, pool: pool)
        let plain = base.embed(texts, batch: 3, pool: pool)
        for i in texts.indices {
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(unmerged[i], expected[i]), 1e-5, "text \(i)")
            XCTAssertGreaterThan(Tolerance.maxAbsDifference(unmerged[i], plain[i]), 1e-3, "the adapter changes text \(i)")
        }
    }

    func testPackedBatchesEqualOneAtATime() throws {
        let modelDir = try TinyBert.write(to: directory.appendingPathComponent("model"))
        let encoder = try SentenceEncoder(directory: modelDir)
        let texts = (0..<9).map { i in Array(repeating: "the party shall pay", count: i + 1).joined(separator: " , ") }
        let together = encoder.embed(texts, batch: 9, pool: ThreadPool(threads: 2))
        let alone = texts.map { encoder.embed([$0], batch: 1, pool: ThreadPool(threads: 1))[0] }
        for i in texts.indices { XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(together[i], alone[i]), 1e-5) }
    }

    func testAdapterForAnotherModelIsRefusedNamingTheTensorAndShapes() throws {
        let modelDir = try TinyBert.write(to: directory.appendingPathComponent("model"))
        let adapterDir = try TinyBert.writeAdapter(to: directory.appendingPathComponent("adapter"), inFeatures: 24)
        let encoder = try SentenceEncoder(directory: modelDir)
        XCTAssertThrowsError(try encoder.loadAdapter(adapterDir)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("lora_A.weight"), message)
            XCTAssertTrue(message.contains("[4, 24]") && message.contains("[4, 16]"), message)
        }
    }

    func testAdapterTargetingAMissingModuleIsRefused() throws {
        let modelDir = try TinyBert.write(to: directory.appendingPathComponent("model"))
        let adapterDir = try TinyBert.writeAdapter(to: directory.appendingPathComponent("adapter"), targets: ["gate_proj"])
        let encoder = try SentenceEncoder(directory: modelDir)
        XCTAssertThrowsError(try encoder.loadAdapter(adapterDir)) { error in
            XCTAssertTrue("\(error)".contains("gate_proj"), "\(error)")
        }
    }

    func testMissingAdapterFilesSayWhatIsNeeded() throws {
        XCTAssertThrowsError(try LoRAAdapter(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("adapter_config.json"), "\(error)")
        }
    }

    func testReferenceAdapterConfig() throws {
        let adapter = try LoRAAdapter(directory: TestPaths.reference.appendingPathComponent("minilm/lora-minilm"))
        XCTAssertEqual(adapter.config.r, 8)
        XCTAssertEqual(adapter.config.loraAlpha, 16)
        XCTAssertEqual(Set(adapter.config.targetModules), ["query", "value"])
        XCTAssertEqual(adapter.pairs["encoder.layer.5.attention.self.value"]?.a.shape, [8, 384])
        XCTAssertEqual(adapter.pairs["encoder.layer.5.attention.self.value"]?.b.shape, [384, 8])
    }
}
