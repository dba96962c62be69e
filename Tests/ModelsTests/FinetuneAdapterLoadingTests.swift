import Foundation
import Kernels
import Models
import TestSupport
import XCTest

/// A PEFT adapter trained elsewhere and one trained by Dojo load through the same path
/// (SentenceEncoder.loadAdapter → LoRAAdapter) on the real MiniLM.
final class FinetuneAdapterLoadingTests: XCTestCase {
    var directory: URL!
    override func setUp() { directory = TinyBert.temporaryDirectory("finetune-load") }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    static let texts: [(String, String)] = [
        ("This Agreement shall be governed by the laws of the State of Delaware.", "Governing Law"),
        ("The laws of New York govern this contract.", "Governing Law"),
        ("Either party may terminate this Agreement upon thirty days written notice.", "Termination For Convenience"),
        ("Company may terminate for convenience with 60 days notice.", "Termination For Convenience"),
        ("This Agreement is governed by English law.", "Governing Law"),
        ("Licensee may end this agreement at any time without cause.", "Termination For Convenience"),
    ]

    func testReferencePEFTAdapterAndADojoAdapterLoadThroughTheSamePath() throws {
        let model = try SentenceEncoder(directory: TestPaths.minilm)
        let pool = ThreadPool(threads: 2)

        // PEFT's (no head: a feature-extraction adapter).
        let reference = try model.loadAdapter(TestPaths.reference.appendingPathComponent("minilm/lora-minilm"))
        XCTAssertEqual(reference.pairs.count, 12)
        XCTAssertTrue(reference.savedTensors.isEmpty)
        XCTAssertThrowsError(try AdapterClassifier(model: model, adapter: reference)) { error in
            XCTAssertTrue("\(error)".contains("no classification head"), "\(error)")
        }

        // Dojo's: one epoch on six sentences is enough to have every tensor.
        let names = ["Governing Law", "Termination For Convenience"]
        let sequences = Self.texts.map { model.tokenizer.encode($0.0, maxLength: 128).ids }
        let labels = Self.texts.map { Int32(names.firstIndex(of: $0.1)!) }
        var options = FinetuneOptions()
        options.batch = 6; options.epochs = 2
        let finetuner = try Finetuner(encoder: model.encoder, labels: names, options: options, pool: pool)
        _ = finetuner.fit(sequences, labels: labels)
        let out = directory.appendingPathComponent("dojo-adapter")
        try AdapterWriter.write(finetuner, baseModel: "sentence-transformers/all-MiniLM-L6-v2", to: out)
        let dojo = try model.loadAdapter(out)
        XCTAssertEqual(Set(dojo.pairs.keys), Set(reference.pairs.keys))
        for (name, pair) in dojo.pairs {
            XCTAssertEqual(pair.a.shape, reference.pairs[name]!.a.shape, name)
            XCTAssertEqual(pair.b.shape, reference.pairs[name]!.b.shape, name)
            XCTAssertEqual(pair.scale, reference.pairs[name]!.scale, name)
        }
        XCTAssertEqual(dojo.savedTensors["classifier.weight"]?.shape, [2, 384])
        XCTAssertEqual(dojo.labels, names)

        // Both apply through the encoder's forward (what `dojo embed --adapter` runs).
        let base = model.embed(["Governing law is Delaware."], pool: pool)[0]
        for adapter in [reference, dojo] {
            let adapted = model.embed(["Governing law is Delaware."], pool: pool, adapter: adapter)[0]
            XCTAssertEqual(adapted.count, 384)
            XCTAssertGreaterThan(Tolerance.cosine(adapted, base), 0.9)
        }

        // The classifier on the loaded adapter reproduces the trainer's probabilities.
        let classifier = try AdapterClassifier(model: model, adapter: dojo)
        let loaded = classifier.probabilities(Self.texts.map(\.0), pool: pool)
        let trained = finetuner.trainer.predict(sequences[...])
        for (a, b) in zip(loaded, trained) { XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(a, b), 1e-4) }
        XCTAssertEqual(classifier.predict(Self.texts.map(\.0), pool: pool).map(\.label),
                       finetuner.predict(sequences).map { names[Int($0.label)] })
    }
}
