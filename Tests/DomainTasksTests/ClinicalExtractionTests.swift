import DomainTasks
import XCTest

final class ClinicalExtractionTests: XCTestCase {
    func testMedicationLine() {
        let meds = ClinicalExtraction.medications(ScalarTextRef("Lisinopril 10 mg PO daily"))
        XCTAssertEqual(meds.count, 1)
        let m = meds[0]
        XCTAssertEqual(m.name, Field("Lisinopril", 0, 10))
        XCTAssertEqual(m.dose, Field("10 mg", 11, 16))
        XCTAssertEqual(m.route, Field("PO", 17, 19))
        XCTAssertEqual(m.frequency, Field("daily", 20, 25))
        XCTAssertEqual(m.start, 0)
        XCTAssertEqual(m.end, 25)
    }

    func testVitals() {
        let v = ClinicalExtraction.vitals(ScalarTextRef("BP 132/84, HR 72"))
        XCTAssertEqual(v, [Vital(type: "bp", value: "132/84", unit: "mmHg", start: 0, end: 9),
                           Vital(type: "hr", value: "72", unit: nil, start: 11, end: 16)])
        let more = ClinicalExtraction.vitals(ScalarTextRef("Temp 98.6 F, RR 16, SpO2 97%, weight 80 kg."))
        XCTAssertEqual(more.map(\.type), ["temp", "rr", "spo2", "weight"])
        XCTAssertEqual(more.map(\.value), ["98.6", "16", "97", "80"])
        XCTAssertEqual(more.map(\.unit), ["F", nil, "%", "kg"])
    }

    func testAllergiesAndProblems() {
        let text = "ALLERGIES: NKDA.\nSOCIAL HISTORY: She is allergic to penicillin, and smokes.\nASSESSMENT:\n1. Hypertension.\n2. Type 2 diabetes."
        let note = ScalarTextRef(text)
        let sections = NoteSectionSegmenter().segment(text)
        let allergies = ClinicalExtraction.allergies(note, sections: sections)
        XCTAssertEqual(allergies.map(\.substance), ["NKDA", "penicillin"])
        XCTAssertEqual(allergies.map(\.none), [true, false])
        XCTAssertEqual(slice(text, allergies[1].start..<allergies[1].end), "penicillin")
        let problems = ClinicalExtraction.problems(note, sections: sections)
        XCTAssertEqual(problems.map(\.text), ["Hypertension", "Type 2 diabetes"])
        XCTAssertEqual(problems.map { slice(text, $0.start..<$0.end) }, ["Hypertension", "Type 2 diabetes"])
    }

    func testMedicationSectionList() {
        let text = "MEDICATIONS: Aspirin, Lipitor and Metformin 500 mg twice daily."
        let meds = ClinicalExtraction.medications(ScalarTextRef(text), sections: NoteSectionSegmenter().segment(text))
        XCTAssertEqual(meds.map(\.name.text), ["Aspirin", "Lipitor", "Metformin"])
        XCTAssertEqual(meds[2].frequency?.text, "twice daily")
    }
}
