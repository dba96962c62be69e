import Foundation
import TestSupport
import XCTest

/// `dojo finetune` as a user runs it: the real binary on a tiny random-weight model.
final class FinetuneCommandTests: XCTestCase {
    var directory: URL!
    var model: URL!
    override func setUpWithError() throws {
        directory = TinyBert.temporaryDirectory("finetune-cli")
        model = try TinyBert.write(to: directory.appendingPathComponent("model"),
                                   config: TinyBert.config(hidden: 32, layers: 2, heads: 2, intermediate: 48))
    }
    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    static let toy: [(String, String)] = [
        ("the party shall pay the fee", "payment"), ("a party shall pay fees", "payment"),
        ("the party shall pay a fee .", "payment"), ("pay the fees , party", "payment"),
        ("notice . notice , b", "notice"), ("b notice notice .", "notice"),
        ("a notice , b .", "notice"), ("notice b b , notice", "notice"),
    ]

    func write(_ lines: [String], _ name: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func toyLines() -> [String] {
        Self.toy.map { t, l in
            String(decoding: try! JSONSerialization.data(withJSONObject: ["text": t, "label": l], options: [.sortedKeys]), as: UTF8.self)
        }
    }

    func finetune(_ extra: [String], train: String, output: String) throws -> ProcessRunner.Output {
        try ProcessRunner.dojo(["finetune", "--model", model.path, "--train", train, "--batch", "4", "--max-length", "16",
                                "--threads", "2", "-o", output] + extra)
    }

    func testTrainsEvaluatesAndWritesAPEFTDirectory() throws {
        let train = try write(toyLines(), "train.jsonl")
        let out = directory.appendingPathComponent("adapter").path
        let result = try finetune(["--eval", train, "--epochs", "10", "--lr", "0.01", "--patience", "10"], train: train, output: out)
        XCTAssertEqual(result.status, 0, result.stderr)
        let epochs = result.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(epochs.count, 10)
        XCTAssertEqual(epochs.last?["eval_accuracy"] as? Double, 1.0, result.stderr)
        XCTAssertNotNil(epochs.first?["eval_macro_f1"])
        XCTAssertTrue(result.stderr.contains("examples/s"), result.stderr)
        let files = try FileManager.default.contentsOfDirectory(atPath: out)
        XCTAssertEqual(Set(files), ["adapter_config.json", "adapter_model.safetensors", "labels.json", "training.json"])
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(config["peft_type"] as? String, "LORA")
        XCTAssertEqual(config["task_type"] as? String, "SEQ_CLS")
        XCTAssertEqual(config["r"] as? Int, 8)
        XCTAssertEqual(config["target_modules"] as? [String], ["query", "value"])
        XCTAssertEqual(config["modules_to_save"] as? [String], ["classifier"])
        let labels = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/labels.json"))) as! [String: Any]
        XCTAssertEqual(labels["id2label"] as? [String: String], ["0": "notice", "1": "payment"])
    }

    func testSameSeedAndThreadsWriteIdenticalAdapterBytes() throws {
        let train = try write(toyLines(), "train.jsonl")
        var bytes: [Data] = []
        for run in 0..<2 {
            let out = directory.appendingPathComponent("run\(run)").path
            let result = try finetune(["--epochs", "2", "--seed", "7"], train: train, output: out)
            XCTAssertEqual(result.status, 0, result.stderr)
            bytes.append(try Data(contentsOf: URL(fileURLWithPath: out + "/adapter_model.safetensors")))
        }
        XCTAssertEqual(bytes[0], bytes[1])
    }

    func testBadInputIsCountedOrRefusedWithAClearMessage() throws {
        // Missing labels skipped and counted; a label seen once kept with a warning; long texts truncated and counted.
        var lines = toyLines()
        lines.append(#"{"text": "the fee"}"#)
        lines.append(#"{"text": "a b a b", "label": "rare"}"#)
        lines.append(#"{"text": "\#(Array(repeating: "notice", count: 40).joined(separator: " "))", "label": "notice"}"#)
        let train = try write(lines, "messy.jsonl")
        let out = directory.appendingPathComponent("messy").path
        let result = try finetune(["--epochs", "1"], train: train, output: out)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("1 line(s) without a 'label' skipped (first at line 9)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("seen only once") && result.stderr.contains("'rare'"), result.stderr)
        XCTAssertTrue(result.stderr.contains("1 text(s) truncated to 16 tokens"), result.stderr)

        // The output exists now: refused without --force, replaced with it.
        let again = try finetune(["--epochs", "1"], train: train, output: out)
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("already exists") && again.stderr.contains("--force"), again.stderr)
        XCTAssertEqual(try finetune(["--epochs", "1", "--force"], train: train, output: out).status, 0)

        // An empty train file is refused; so is a target the model does not have (named), and nothing is written.
        let empty = try write([], "empty.jsonl")
        let refused = try finetune([], train: empty, output: directory.appendingPathComponent("none").path)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("no labelled examples"), refused.stderr)
        let badTarget = try finetune(["--targets", "query,q_proj"], train: train, output: directory.appendingPathComponent("none").path)
        XCTAssertNotEqual(badTarget.status, 0)
        XCTAssertTrue(badTarget.stderr.contains("'q_proj'"), badTarget.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("none").path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.contains("partial") }, [])
    }

    func testDefaultRecipeTrainsTheHeadAt30xAndReadsUpTo256Tokens() throws {
        let train = try write(toyLines(), "train.jsonl")
        func training(_ extra: [String], _ name: String) throws -> [String: Any] {
            let out = directory.appendingPathComponent(name).path
            let result = try ProcessRunner.dojo(["finetune", "--model", model.path, "--train", train, "--epochs", "1",
                                                 "--threads", "1", "-o", out] + extra)
            XCTAssertEqual(result.status, 0, result.stderr)
            return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/training.json"))) as! [String: Any]
        }
        // No flags: head learning rate 30 × --lr; max length 256, capped by this tiny model's 64 positions.
        let defaults = try training([], "defaults")
        XCTAssertEqual(defaults["head_lr_multiplier"] as? Double, 30)
        XCTAssertEqual(defaults["max_length"] as? Int, 64)
        // PEFT's recipe: one learning rate.
        let peft = try training(["--head-lr", "1", "--max-length", "32"], "peft")
        XCTAssertEqual(peft["head_lr_multiplier"] as? Double, 1)
        XCTAssertEqual(peft["max_length"] as? Int, 32)
        let refused = try ProcessRunner.dojo(["finetune", "--model", model.path, "--train", train, "--head-lr", "0",
                                              "-o", directory.appendingPathComponent("none").path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--head-lr must be positive"), refused.stderr)
    }

    func testSeedsTrainsEachMemberAndWritesTheirSoupAsOneAdapter() throws {
        let train = try write(toyLines(), "train.jsonl")
        let out = directory.appendingPathComponent("soup").path
        let result = try finetune(["--eval", train, "--epochs", "2", "--lr", "0.01", "--seeds", "3", "--seed", "5", "--keep", "last"],
                                  train: train, output: out)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        // Two epochs for each of seeds 5, 6 and 7, then the soup's own evaluation.
        XCTAssertEqual(lines.compactMap { $0["seed"] as? Int }, [5, 5, 6, 6, 7, 7])
        XCTAssertEqual(lines.last?["soup"] as? Int, 3)
        XCTAssertEqual(lines.last?["eval_examples"] as? Int, 8)
        XCTAssertNotNil(lines.last?["eval_accuracy"] as? Double)
        XCTAssertTrue(result.stderr.contains("soup member 2 of 3, seed 6"), result.stderr)
        XCTAssertTrue(result.stderr.contains("soup of 3: eval accuracy"), result.stderr)
        // One adapter: rank 3 × 8 with alpha 3 × 16, so each member keeps its scale of 2.
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(config["r"] as? Int, 24)
        XCTAssertEqual(config["lora_alpha"] as? Double, 48)
        let training = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/training.json"))) as! [String: Any]
        XCTAssertEqual(training["soup_seeds"] as? [Int], [5, 6, 7])
        XCTAssertEqual(training["member_rank"] as? Int, 8)
        XCTAssertEqual(training["keep"] as? String, "last")

        let refused = try finetune(["--seeds", "0"], train: train, output: directory.appendingPathComponent("none").path)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("--seeds must be in 1...64"), refused.stderr)
    }

    func weights(_ dir: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: dir + "/adapter_model.safetensors")) }

    func testATeacherAdapterEntersTheTargetsWithItsWeight() throws {
        let train = try write(toyLines(), "train.jsonl")
        let teacher = directory.appendingPathComponent("teacher").path
        XCTAssertEqual(try finetune(["--epochs", "2", "--lr", "0.01", "--seed", "1"], train: train, output: teacher).status, 0)
        func student(_ name: String, _ extra: [String]) throws -> String {
            let out = directory.appendingPathComponent(name).path
            let result = try finetune(["--epochs", "2", "--seed", "3"] + extra, train: train, output: out)
            XCTAssertEqual(result.status, 0, result.stderr)
            return out
        }
        let plain = try student("plain", [])
        let distilled = try student("distilled", ["--teacher", teacher + "," + teacher])
        let weightless = try student("weightless", ["--teacher", teacher, "--distil", "0"])
        XCTAssertNotEqual(try weights(distilled), try weights(plain))
        XCTAssertEqual(try weights(weightless), try weights(plain))
        let training = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: distilled + "/training.json"))) as! [String: Any]
        XCTAssertEqual(training["teachers"] as? [String], [teacher, teacher])
        XCTAssertEqual(training["distil_weight"] as? Double, 0.5)

        // A teacher trained on other labels is refused, naming it and the labels that differ.
        let other = try write(Self.toy.map { t, l in "{\"text\": \"\(t)\", \"label\": \"\(l == "notice" ? "term" : l)\"}" }, "other.jsonl")
        let otherTeacher = directory.appendingPathComponent("other-teacher").path
        XCTAssertEqual(try finetune(["--epochs", "1"], train: other, output: otherTeacher).status, 0)
        let refused = try finetune(["--teacher", otherTeacher], train: train, output: directory.appendingPathComponent("refused").path)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("\(otherTeacher): the teacher's labels are not the training labels (missing: notice; "
                                              + "not in the training data: term)"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("refused").path))
    }

    func testAMovingAverageReportsTheLiveParametersBesideIt() throws {
        let train = try write(toyLines(), "train.jsonl")
        let out = directory.appendingPathComponent("ema").path
        let result = try finetune(["--eval", train, "--epochs", "2", "--lr", "0.01", "--ema", "0.9", "--keep", "last"], train: train, output: out)
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        XCTAssertEqual(lines.count, 2)
        XCTAssertNotNil(lines[0]["live_eval_accuracy"] as? Double)
        XCTAssertTrue(result.stderr.contains("(moving average; the live parameters: "), result.stderr)
        let plain = directory.appendingPathComponent("plain").path
        XCTAssertEqual(try finetune(["--eval", train, "--epochs", "2", "--lr", "0.01", "--keep", "last"], train: train, output: plain).status, 0)
        XCTAssertNotEqual(try weights(out), try weights(plain))
        let refused = try finetune(["--ema", "1"], train: train, output: directory.appendingPathComponent("none").path)
        XCTAssertTrue(refused.stderr.contains("--ema must be in [0, 1)"), refused.stderr)
    }

    func testInitContinuesAnAdapterWithItsRankTargetsAndLabels() throws {
        let train = try write(toyLines(), "train.jsonl")
        let stage1 = directory.appendingPathComponent("stage1").path
        XCTAssertEqual(try finetune(["--epochs", "2", "--lr", "0.01", "--rank", "4", "--alpha", "4", "--targets", "query,key"],
                                    train: train, output: stage1).status, 0)
        // The second stage sees one label only; the head keeps both, and the adapter's rank and targets win over the flags.
        let payments = try write(Array(toyLines().prefix(4)), "payments.jsonl")
        let stage2 = directory.appendingPathComponent("stage2").path
        let result = try finetune(["--init", stage1, "--epochs", "3", "--lr", "0.01", "--rank", "8"], train: payments, output: stage2)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("r 4, and a 2-label head) on 4 examples"), result.stderr)
        XCTAssertTrue(result.stderr.contains("continuing \(stage1)"), result.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stage2 + "/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual(config["r"] as? Int, 4)
        XCTAssertEqual(config["lora_alpha"] as? Double, 4)
        XCTAssertEqual(config["target_modules"] as? [String], ["query", "key"])
        let labels = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stage2 + "/labels.json"))) as! [String: Any]
        XCTAssertEqual(labels["id2label"] as? [String: String], ["0": "notice", "1": "payment"])
        let training = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stage2 + "/training.json"))) as! [String: Any]
        XCTAssertEqual(training["init"] as? String, stage1)
        XCTAssertNotEqual(try weights(stage2), try weights(stage1))

        // A label the adapter's head does not have is refused, naming it, the adapter and the fix.
        let term = try write(["{\"text\": \"the term is one year\", \"label\": \"term\"}"] + toyLines(), "term.jsonl")
        let refused = try finetune(["--init", stage1], train: term, output: directory.appendingPathComponent("refused").path)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("label(s) 'term' are not among the 2 of \(stage1) (labels.json)"), refused.stderr)
        let missing = try finetune(["--init", directory.appendingPathComponent("nowhere").path], train: train,
                                   output: directory.appendingPathComponent("refused").path)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("adapter_config.json"), missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("refused").path))
    }
}
