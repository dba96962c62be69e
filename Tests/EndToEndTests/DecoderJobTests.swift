import Foundation
import TestSupport
import XCTest

/// A `generate` job through a real coordinator and worker: the worker loads the GGUF decoder on
/// the first shard, decodes the shard's documents together, and reports the model it loaded.
final class DecoderJobTests: XCTestCase {
    var cluster: ClusterHarness!

    override func setUp() { cluster = ClusterHarness(name) }
    override func tearDown() {
        cluster.stopAll()
        if testRun?.failureCount == 0 { try? FileManager.default.removeItem(at: cluster.directory) }
    }

    func testGenerateJobThroughTheClusterAndTheLoadedModelIsReported() throws {
        guard FileManager.default.fileExists(atPath: TestPaths.smollm2.path) else { throw XCTSkip("SmolLM2 not installed (ops/setup)") }
        try cluster.startCoordinator()
        try cluster.startWorker("w1", ["--threads", "2"])
        let spec = cluster.directory.appendingPathComponent("generate.yaml")
        try """
            task: generate
            model: \(TestPaths.smollm2.path)
            params:
              prompt: "Answer in a few words. {text}"
              max_tokens: 6
              parallel: 3
              context: 256
            shard_size: 4
            """.write(to: spec, atomically: true, encoding: .utf8)
        let input = cluster.directory.appendingPathComponent("prompts.jsonl")
        try """
            {"id":"p1","text":"What is the capital of France?"}
            {"id":"p2","text":"   "}
            {"id":"p3","text":"Which law governs a contract made in Delaware?"}
            {"id":"p4","text":"Name a colour of the sky."}
            {"id":"p5","text":"What is two plus two?"}

            """.write(to: input, atomically: true, encoding: .utf8)
        let submitted = try cluster.dojo(["submit", spec.path, "--input", input.path, "--wait"])
        XCTAssertEqual(submitted.status, 0, "submit: \(submitted.stderr)\n\(cluster.log("coordinator"))\n\(cluster.log("w1"))")
        let job = try XCTUnwrap(submitted.lines.first)

        let results = try cluster.dojo(["results", job])
        XCTAssertEqual(results.status, 0, results.stderr)
        let records = results.lines.map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] }
        XCTAssertEqual(records.compactMap { $0["id"] as? String }, ["p1", "p2", "p3", "p4", "p5"])
        XCTAssertEqual(records[1]["error"] as? String, "document is empty (no text after whitespace)")
        for k in [0, 2, 3, 4] {
            let generated = try XCTUnwrap(records[k]["generated_tokens"] as? Int, "\(records[k])")
            XCTAssertTrue((1...6).contains(generated), "\(records[k])")
            XCTAssertFalse((records[k]["text"] as? String ?? "").isEmpty, "\(records[k])")
            XCTAssertGreaterThan(records[k]["prompt_tokens"] as? Int ?? 0, 10)
        }

        // The decoder was loaded after hello; the worker's heartbeats report it.
        try cluster.waitUntil(timeout: 30) {
            let w = try cluster.dojo(["workers", "--json"])
            let list = (try? JSONSerialization.jsonObject(with: w.stdout)) as? [[String: Any]] ?? []
            return (list.first?["models"] as? [String])?.contains(TestPaths.smollm2.lastPathComponent) == true
        }
    }
}
