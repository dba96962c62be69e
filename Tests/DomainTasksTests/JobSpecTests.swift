import DomainTasks
import Foundation
import Kernels
import TestSupport
import XCTest

final class JobSpecTests: XCTestCase {
    func testTheShippedEmbedSpecParsesWithItsValues() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let spec = try JobSpec.load(root.appendingPathComponent("jobs/embed.yaml"))
        XCTAssertEqual(spec.task, "embed")
        XCTAssertEqual(spec.model, "minilm")
        XCTAssertNil(spec.adapter)
        XCTAssertEqual(spec.int("batch", default: 0), 32)
        XCTAssertEqual(spec.shardSize, 256)
        XCTAssertEqual(spec.shardTokens, 131_072)
        XCTAssertEqual(spec.retries, 3)
    }

    func testDefaultsAndJSONRoundTrip() throws {
        let spec = try JobSpec.parse(yaml: "task: noop\nparams: {marker: X, n: 3, on: true, list: [1, a]}\n", source: "t.yaml")
        XCTAssertEqual(spec.shardSize, 256)
        XCTAssertEqual(spec.priority, 0)
        XCTAssertEqual(spec.params["list"], .list([.number(1), .string("a")]))
        XCTAssertEqual(try JobSpec.fromJSON(spec.jsonData()), spec)
    }

    func testErrorsNameTheFileAndField() {
        func message(_ yaml: String) -> String {
            do { _ = try JobSpec.parse(yaml: yaml, source: "job.yaml"); return "no error" } catch { return "\(error)" }
        }
        XCTAssertEqual(message("model: minilm\n"), "job.yaml: missing required field 'task'")
        XCTAssertTrue(message("task: embed\nshard_size: lots\n").contains("shard_size"))
        XCTAssertEqual(message("task: embed\nshard_size: 0\n"), "job.yaml: shard_size must be in 1...1000000, not 0")
        XCTAssertTrue(message(": : :\n - [").hasPrefix("job.yaml: "))
    }

    func testUnknownTaskIsRefusedBeforeQueuing() {
        let spec = JobSpec(task: "summarise-everything")
        XCTAssertThrowsError(try TaskCatalog.validate(spec, source: "j.yaml")) { error in
            XCTAssertTrue("\(error)".contains("unknown task 'summarise-everything'"))
        }
    }

    func testEmbedNeedsAModelThatResolves() {
        XCTAssertThrowsError(try TaskCatalog.validate(JobSpec(task: "embed"), source: "j.yaml")) { error in
            XCTAssertTrue("\(error)".contains("needs a 'model'"))
        }
        XCTAssertThrowsError(try TaskCatalog.validate(JobSpec(task: "embed", model: "/no/such/model"), source: "j.yaml")) { error in
            XCTAssertTrue("\(error)".contains("/no/such/model"))
        }
    }

    func testNoopTaskEchoesIds() {
        let docs = [Document(id: .string("a"), text: "x"), Document(id: .number("2"), text: "y")]
        XCTAssertEqual(NoopTask().run(docs).map(\.json), [#"{"id":"a"}"#, #"{"id":2}"#])
    }

    func testPrecisionParameter() throws {
        XCTAssertEqual(try JobSpec(task: "embed", model: "minilm").precision(source: "j.yaml"), .f32)
        let bad = try JobSpec.parse(yaml: "task: embed\nmodel: minilm\nparams: {precision: fp8}\n", source: "j.yaml")
        XCTAssertThrowsError(try TaskCatalog.validate(bad, source: "j.yaml")) { error in
            XCTAssertEqual("\(error)", "j.yaml: params.precision must be f32 or bf16, not 'fp8'")
        }
        try XCTSkipUnless(GemmBF16.isSupported, "this CPU has no AVX-512 BF16")
        var spec = try JobSpec.parse(yaml: "task: embed\nparams: {precision: bf16}\n", source: "j.yaml")
        spec.model = TestPaths.minilm.path
        try TaskCatalog.validate(spec, source: "j.yaml")
        let models = CachingModelProvider(pool: ThreadPool(threads: 1))
        let task = try XCTUnwrap(try TaskCatalog.make(spec, models: models) as? EmbedTask)
        XCTAssertEqual(task.encoder.encoder.precision, .bf16)
        // the float32 encoder of the same model is a separate one
        XCTAssertEqual(try models.encoder(TestPaths.minilm.path, precision: .f32).encoder.precision, .f32)
    }
}
