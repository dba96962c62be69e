import DomainTasks
import Foundation
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
}
