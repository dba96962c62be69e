import Foundation
import Models
import XCTest

/// The sampler and chat templates.
final class LlamaSamplingTests: XCTestCase {
    func sample(_ logits: [Float], _ p: SamplingParameters, stream: UInt64 = 0, recent: [Int32] = [], draws: Int = 1) -> [Int32] {
        var sampler = Sampler(p, stream: stream)
        var scratch: [Sampler.Candidate] = []
        return (0..<draws).map { _ in
            var l = logits
            return l.withUnsafeMutableBufferPointer { sampler.sample($0.baseAddress!, count: $0.count, recent: recent[...], scratch: &scratch) }
        }
    }

    let logits: [Float] = [1, 3, 2.5, -1, 0, 2.9, 0.5, 2]

    func testGreedyIsArgmax() {
        XCTAssertEqual(sample(logits, .greedy), [1])
        XCTAssertEqual(sample(logits, SamplingParameters(temperature: 5, topK: 1)), [1], "top-k 1 is greedy")
    }

    func testRepetitionPenaltyDividesPositiveLogits() {
        // 3 / 1.5 = 2 falls below 2.9 (token 5)
        XCTAssertEqual(sample(logits, SamplingParameters(repeatPenalty: 1.5), recent: [1]), [5])
    }

    func testSameSeedSameTokensOtherSeedOthers() {
        let p = SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: 42)
        let a = sample(logits, p, draws: 50), b = sample(logits, p, draws: 50)
        XCTAssertEqual(a, b)
        var q = p
        q.seed = 43
        XCTAssertNotEqual(a, sample(logits, q, draws: 50))
        XCTAssertNotEqual(a, sample(logits, p, stream: 1, draws: 50), "sequences draw from their own streams")
        XCTAssertGreaterThan(Set(a).count, 3)
    }

    func testTopPAndMinPCut() {
        // top-p 0.5 keeps 1 and 5 (softmax mass 0.33 + 0.30 ≥ 0.5)
        let kept = Set(sample(logits, SamplingParameters(temperature: 1, topK: 0, topP: 0.5, minP: 0, seed: 1), draws: 200))
        XCTAssertEqual(kept, [1, 5])
        // min-p 0.5: p(i)/p(1) ≥ 0.5 keeps 1, 5 and 2 (e^-0.5 = 0.61), not 7 (e^-1 = 0.37)
        let minKept = Set(sample(logits, SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0.5, seed: 1), draws: 300))
        XCTAssertEqual(minKept, [1, 2, 5])
    }

    func testSmolLM2TemplateAddsItsDefaultSystemTurn() throws {
        let smol = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
        let t = try XCTUnwrap(ChatTemplate(templateText: smol))
        XCTAssertEqual(t.render([ChatMessage(role: "user", content: "Hi")]),
                       "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        XCTAssertEqual(t.render([ChatMessage(role: "system", content: "S"), ChatMessage(role: "user", content: "Hi")]),
                       "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        let llama3 = try XCTUnwrap(ChatTemplate(templateText: "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}"))
        XCTAssertEqual(llama3.render([ChatMessage(role: "user", content: " Hi ")]),
                       "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
        XCTAssertNil(ChatTemplate(templateText: "{{ messages }}"))
    }
}
