import DomainTasks
import Foundation
import XCTest

/// Bag-of-words vectors: enough for zero-shot logic without a model.
final class StubEmbedder: TextEmbedder {
    let vocabulary = ["law", "governed", "terminate", "convenience", "renew", "liability", "exceed", "pain", "heart", "skin"]
    func embed(_ texts: [String]) -> [EmbeddedText] {
        texts.map { t in
            let lower = t.lowercased()
            var v = vocabulary.map { lower.contains($0) ? Float(1) : 0 }
            v.append(0.01)
            let n = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return EmbeddedText(vector: v.map { $0 / n }, cut: t.count > 300, tokens: t.count / 4)
        }
    }
}

func object(_ record: TaskRecord) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(record.json.utf8))) as? [String: Any] ?? [:]
}

final class TaskRecordTests: XCTestCase {
    let labels = [LabelPrompt(label: "Governing Law", prompts: ["Governing Law: which law governs"]),
                  LabelPrompt(label: "Termination for Convenience", prompts: ["terminate for convenience"]),
                  LabelPrompt(label: "Cap on Liability", prompts: ["liability shall not exceed"])]

    func testClassifyRecords() {
        let classifier = ZeroShotClassifier(embedder: StubEmbedder(), labels: labels, temperature: 0.1, center: false)
        let task = ClassifyTask(classifier: classifier, topK: 2)
        let records = task.run([Document(id: .string("a"), text: "This Agreement is governed by the law of Texas."),
                                Document(id: .number("7"), text: "   "),
                                Document(id: .string("c"), text: String(repeating: "Liability shall not exceed the fees. ", count: 10))])
        XCTAssertEqual(records.count, 3)
        let a = object(records[0])
        XCTAssertEqual(a["label"] as? String, "Governing Law")
        XCTAssertEqual((a["top"] as? [[String: Any]])?.count, 2)
        XCTAssertGreaterThan(a["score"] as! Double, 0.5)
        XCTAssertTrue(records[1].isError)
        XCTAssertEqual(object(records[1])["id"] as? Int, 7)
        XCTAssertEqual(object(records[2])["label"] as? String, "Cap on Liability")
        XCTAssertEqual(object(records[2])["cut"] as? Bool, true)
    }

    func testContractReviewRecord() {
        let classifier = ZeroShotClassifier(embedder: StubEmbedder(), labels: labels, temperature: 0.1, center: false)
        let task = ContractReviewTask(classifier: classifier, presentScore: 0.5)
        let records = task.run([Document(id: .string("k"), text: ContractRulesTests.contract)])
        let o = object(records[0])
        let clauses = o["clauses"] as! [[String: Any]]
        XCTAssertEqual(clauses.count, 5)
        XCTAssertEqual(clauses[1]["type"] as? String, "Governing Law")
        XCTAssertEqual(clauses[1]["start"] as? Int, 131)
        XCTAssertEqual(clauses[4]["type"] as? String, "Termination for Convenience")
        XCTAssertEqual(Set(o["present"] as! [String]), ["Governing Law", "Termination for Convenience", "Cap on Liability"])
        XCTAssertEqual(((o["answers"] as! [String: Any])["governing_law"] as! [String: Any])["value"] as? String, "New York")
        let flags = o["flags"] as! [[String: Any]]
        XCTAssertEqual(flags.map { $0["type"] as! String }, ["auto_renewal", "termination_for_convenience"])
        XCTAssertTrue((flags[1]["reason"] as! String).contains("typed Termination for Convenience"))
    }

    func testBadInputGivesErrorRecordsOrWarnings() {
        let classifier = ZeroShotClassifier(embedder: StubEmbedder(), labels: labels, temperature: 0.1, center: false)
        let contract = ContractReviewTask(classifier: classifier)
        let notes = ClinicalNotesTask(specialty: classifier, sectionClassifier: classifier)
        let junk = String(decoding: (0..<4000).map { UInt8(truncatingIfNeeded: $0 &* 7) }, as: UTF8.self)
        for task in [contract, notes] as [DomainTask] {
            let records = task.run([Document(id: .string("empty"), text: ""), Document(id: .string("junk"), text: junk)])
            XCTAssertEqual(records.map(\.isError), [true, true])
            XCTAssertTrue(object(records[0])["error"] as! String == "document is empty (no text after whitespace)")
            XCTAssertTrue((object(records[1])["error"] as! String).contains("does not look like text"))
        }
        let german = "ANAMNESE: Der Patient klagt über Schmerzen in der Brust seit drei Tagen. Keine Allergien bekannt. Blutdruck 130/80, Puls 72. Er raucht nicht und trinkt keinen Alkohol. Die Mutter hatte einen Herzinfarkt."
        let r = notes.run([Document(id: .string("de"), text: german)])[0]
        XCTAssertFalse(r.isError)
        XCTAssertTrue((object(r)["warning"] as? String ?? "").contains("does not look like English"))
        XCTAssertFalse(r.json.contains("Schmerzen in der Brust seit"))  // the note's prose is not copied into the record
    }

    func testFiveMegabyteContractFinishes() {
        let classifier = ZeroShotClassifier(embedder: StubEmbedder(), labels: labels, temperature: 0.1, center: false)
        let paragraph = "12.3 The Supplier shall deliver the Products within thirty (30) days; this Agreement is governed by the law of Ohio.   "
        let text = String(repeating: paragraph, count: 5_000_000 / paragraph.utf8.count + 1)
        let start = Date()
        let record = ContractReviewTask(classifier: classifier).run([Document(id: .string("big"), text: text)])[0]
        XCTAssertFalse(record.isError)
        XCTAssertLessThan(Date().timeIntervalSince(start), 120)
        XCTAssertEqual((object(record)["clauses"] as? [Any])?.count, 5_000_000 / paragraph.utf8.count + 1)
    }

    func testClinicalNotesRecord() {
        let sections = ZeroShotClassifier(embedder: StubEmbedder(), labels: [LabelPrompt(label: "EXAM", prompts: ["heart skin"]), LabelPrompt(label: "CC", prompts: ["pain"])], temperature: 0.1, center: false)
        let specialty = ZeroShotClassifier(embedder: StubEmbedder(), labels: [LabelPrompt(label: "Cardiology", prompts: ["heart"]), LabelPrompt(label: "Dermatology", prompts: ["skin"])], temperature: 0.1, center: false)
        let task = ClinicalNotesTask(specialty: specialty, sectionClassifier: sections)
        let text = "Chest pain and heart racing.\nMEDICATIONS: Lisinopril 10 mg PO daily.\nALLERGIES: NKDA.\nVITALS: BP 132/84, HR 72.\nASSESSMENT: Palpitations."
        let o = object(task.run([Document(id: .string("n"), text: text)])[0])
        XCTAssertEqual((o["specialty"] as! [String: Any])["label"] as? String, "Cardiology")
        let secs = o["sections"] as! [[String: Any]]
        XCTAssertEqual(secs.map { $0["type"] as? String }, ["CC", "MEDICATIONS", "ALLERGY", "EXAM", "ASSESSMENT"])
        XCTAssertEqual(secs.map { $0["source"] as? String }, ["model", "heading", "heading", "heading", "heading"])
        let med = (o["medications"] as! [[String: Any]])[0]
        XCTAssertEqual((med["name"] as! [String: Any])["text"] as? String, "Lisinopril")
        XCTAssertEqual((o["vitals"] as! [[String: Any]]).map { $0["type"] as! String }, ["bp", "hr"])
        XCTAssertEqual((o["allergies"] as! [[String: Any]]).first?["none"] as? Bool, true)
        XCTAssertEqual((o["problems"] as! [[String: Any]]).map { $0["text"] as! String }, ["Palpitations"])
    }

    func testSpecLabelsNotInTheAdapterAreRefused() throws {
        // Without an adapter head there is nothing to refuse; with one, unknown labels are named.
        let spec = try JobSpec.parse(yaml: "task: classify\nmodel: minilm\nparams:\n  labels: [\"A: x\", \"A: y\"]\n", source: "s.yaml")
        XCTAssertThrowsError(try ClassifyTask.validate(spec, source: "s.yaml")) { e in XCTAssertTrue("\(e)".contains("names 'A' twice")) }
        let noLabels = try JobSpec.parse(yaml: "task: classify\nmodel: minilm\n", source: "s.yaml")
        XCTAssertThrowsError(try ClassifyTask.validate(noLabels, source: "s.yaml"))
    }
}
