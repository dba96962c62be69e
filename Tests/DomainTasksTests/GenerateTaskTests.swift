import DomainTasks
import Foundation
import Kernels
import Models
import TestSupport
import XCTest

/// Completes each document with a fixed answer, remembering the prompts it was asked for.
final class StubGenerator: TextGenerator {
    var seen: [[String]] = []
    func complete(_ documents: [Document], prompt: PromptTemplate) -> [Result<Completion, TaskFailure>] {
        seen.append(documents.map { prompt.fill(text: $0.text, id: $0.id.description) })
        return documents.map { d in
            d.text.contains("FAIL") ? .failure(TaskFailure("the prompt is longer than the context"))
                : .success(Completion(text: "about \(d.text.count) chars", finish: "stop", promptTokens: 10, generatedTokens: 3,
                                      truncated: d.text.count > 40))
        }
    }
}

final class GenerateTaskTests: XCTestCase {
    /// Records come back in input order; a document that is not text and one the model cannot take
    /// get error records saying why; the rest are completed together in one call.
    func testRecordsInOrderWithErrorsAndTruncation() {
        let stub = StubGenerator()
        let task = GenerateTask(generator: stub, prompt: PromptTemplate(template: "Summarise {id}: {text}"))
        let records = task.run([
            Document(id: .string("a"), text: "short note"),
            Document(id: .string("b"), text: "   "),
            Document(id: .number("3"), text: "FAIL here"),
            Document(id: .string("d"), text: String(repeating: "long ", count: 10)),
        ])
        XCTAssertEqual(records.map(\.json), [
            #"{"id":"a","text":"about 10 chars","finish":"stop","prompt_tokens":10,"generated_tokens":3}"#,
            #"{"id":"b","error":"document is empty (no text after whitespace)"}"#,
            #"{"id":3,"error":"the prompt is longer than the context"}"#,
            #"{"id":"d","text":"about 50 chars","finish":"stop","prompt_tokens":10,"generated_tokens":3,"truncated":true}"#,
        ])
        XCTAssertEqual(records.map(\.isError), [false, true, true, false])
        XCTAssertEqual(records.map(\.tokens), [13, 0, 0, 13])
        XCTAssertEqual(stub.seen, [["Summarise a: short note", "Summarise 3: FAIL here", "Summarise d: " + String(repeating: "long ", count: 10)]])
    }

    /// The spec's settings are checked before anything is queued, each error naming the field.
    func testSpecValidation() throws {
        func message(_ params: [String: SpecValue]) -> String {
            do { _ = try GenerateTask.settings(JobSpec(task: "generate", params: params), source: "g.yaml"); return "ok" } catch {
                return "\(error)"
            }
        }
        XCTAssertEqual(message([:]), "ok")
        XCTAssertEqual(message(["max_tokens": .number(0)]), "g.yaml: params.max_tokens must be in 1...8192, not 0")
        XCTAssertEqual(message(["temperature": .number(-1)]), "g.yaml: params.temperature must be 0 or more")
        XCTAssertEqual(message(["max_tokens": .number(256), "context": .number(128)]),
                       "g.yaml: params.context (128) must be larger than max_tokens (256)")
        let settings = try GenerateTask.settings(JobSpec(task: "generate", params: ["stop": .string("\n\n"), "temperature": .number(0.7),
                                                                                    "seed": .number(5)]), source: "g.yaml")
        XCTAssertEqual(settings.stop, ["\n\n"])
        XCTAssertEqual(settings.sampling.temperature, 0.7)
        XCTAssertEqual(settings.sampling.seed, 5)
        XCTAssertThrowsError(try TaskCatalog.validate(JobSpec(task: "generate"), source: "g.yaml")) {
            XCTAssertEqual("\($0)", "g.yaml: task 'generate' needs a 'model' (a GGUF decoder, e.g. smollm2)")
        }
    }

    /// Clinical notes with `summary: true` carry the decoder's summary (trimmed) or say why there is none.
    func testClinicalNotesSummary() {
        let stub = StubGenerator()
        let task = ClinicalNotesTask(specialty: nil, sectionClassifier: nil,
                                     summarizer: (stub, PromptTemplate(template: ClinicalNotesTask.defaultSummaryPrompt)))
        let records = task.run([
            Document(id: .string("n1"), text: "ASSESSMENT: Contact dermatitis."),
            Document(id: .string("n2"), text: "ASSESSMENT: FAIL."),
        ])
        let first = object(records[0]), second = object(records[1])
        XCTAssertEqual((first["summary"] as? [String: Any])?["text"] as? String, "about 31 chars")
        XCTAssertEqual((first["summary"] as? [String: Any])?["finish"] as? String, "stop")
        XCTAssertEqual(second["summary_error"] as? String, "the prompt is longer than the context")
        XCTAssertEqual(records[0].tokens, 13)
        XCTAssertTrue(stub.seen[0][0].hasSuffix("\n\nASSESSMENT: Contact dermatitis."))
    }
}

/// The `generate` task on the real SmolLM2 (skipped when it is not installed).
final class RealDecoderTaskTests: XCTestCase {
    static let models = CachingModelProvider(pool: ThreadPool(threads: 2))

    func model() throws -> String {
        guard FileManager.default.fileExists(atPath: TestPaths.smollm2.path) else { throw XCTSkip("SmolLM2 not installed (ops/setup)") }
        return TestPaths.smollm2.path
    }

    /// The task gives what the generator gives for the same chat prompt, greedy, one sequence at a time.
    func testGenerateMatchesTheGeneratorOnTheSamePrompt() throws {
        let path = try model()
        let spec = JobSpec(task: "generate", model: path, params: [
            "prompt": .string("Name the governing law in one word: {text}"), "max_tokens": .number(12), "parallel": .number(1),
        ])
        try TaskCatalog.validate(spec, source: "g.yaml")
        let text = "This Agreement shall be governed by the laws of the State of New York."
        let record = object(try TaskCatalog.make(spec, models: Self.models).run([Document(id: .string("c1"), text: text)])[0])

        let llama = try LlamaModel(path: path)
        let chat = try ChatTemplate(gguf: llama.file)
        let prompt = llama.tokenizer.encode(chat.render([ChatMessage(role: "user", content: "Name the governing law in one word: " + text)]),
                                            addSpecial: true)
        let generator = Generator(model: llama, state: llama.makeState(slots: 1, context: 2048, pool: Self.models.pool))
        let expected = try generator.generate([GenerationRequest(index: 0, prompt: prompt, maxTokens: 12)])[0].get()
        XCTAssertEqual(record["text"] as? String, expected.text)
        XCTAssertEqual(record["prompt_tokens"] as? Int, prompt.count)
        XCTAssertEqual(record["generated_tokens"] as? Int, expected.tokens.count)
        XCTAssertEqual(record["finish"] as? String, expected.finish.rawValue)
        XCTAssertFalse((record["text"] as? String ?? "").isEmpty)
    }

    /// A document longer than the context is cut from its end so prompt and answer fit, and the record says so.
    func testLongDocumentIsCutToFitAndMarked() throws {
        let spec = JobSpec(task: "generate", model: try model(), params: [
            "prompt": .string("{text}"), "chat": .bool(false), "max_tokens": .number(4), "context": .number(64),
        ])
        let long = String(repeating: "The Licensee shall pay royalties on all Net Sales. ", count: 40)
        let record = object(try TaskCatalog.make(spec, models: Self.models).run([Document(id: .string("l"), text: long)])[0])
        XCTAssertEqual(record["truncated"] as? Bool, true)
        let promptTokens = try XCTUnwrap(record["prompt_tokens"] as? Int)
        XCTAssertLessThanOrEqual(promptTokens, 60)
        XCTAssertGreaterThan(promptTokens, 30, "the cut keeps as much of the document as fits")
        XCTAssertEqual(record["generated_tokens"] as? Int, 4)
        XCTAssertEqual(record["finish"] as? String, "length")
    }
}
