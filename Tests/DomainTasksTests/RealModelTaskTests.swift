import DomainTasks
import Foundation
import Kernels
import TestSupport
import XCTest

/// Each task once on a sample document with the real MiniLM (skipped when the model is not installed).
final class RealModelTaskTests: XCTestCase {
    static let models = CachingModelProvider(pool: ThreadPool(threads: 2))

    func spec(_ file: String) throws -> JobSpec {
        guard FileManager.default.fileExists(atPath: TestPaths.minilm.path) else { throw XCTSkip("MiniLM not installed (ops/setup)") }
        var s = try JobSpec.load(TestPaths.packageRoot.appendingPathComponent("jobs/\(file)"))
        s.model = TestPaths.minilm.path
        return s
    }

    func testClassifyGoverningLawClause() throws {
        let task = try TaskCatalog.make(spec("cuad-clause-types.yaml"), models: Self.models)
        let r = task.run([Document(id: .string("g"), text: "This Agreement shall be governed by the laws of the State of Delaware.")])[0]
        XCTAssertEqual(object(r)["label"] as? String, "Governing Law")
    }

    func testContractReviewOnAShortContract() throws {
        let task = try TaskCatalog.make(spec("contract-review.yaml"), models: Self.models)
        let r = task.run([Document(id: .string("k"), text: ContractRulesTests.contract)])[0]
        let o = object(r)
        let clauses = o["clauses"] as! [[String: Any]]
        XCTAssertEqual(clauses.count, 5)
        XCTAssertEqual(clauses[1]["type"] as? String, "Governing Law")
        XCTAssertEqual(((o["answers"] as! [String: Any])["governing_law"] as! [String: Any])["value"] as? String, "New York")
    }

    func testClinicalNotesOnAShortNote() throws {
        let task = try TaskCatalog.make(spec("clinical-notes.yaml"), models: Self.models)
        let text = "CHIEF COMPLAINT: Rash on both arms.\nHISTORY OF PRESENT ILLNESS: Itchy red rash for two weeks after a new soap.\nMEDICATIONS: Hydrocortisone 1 % topical twice daily.\nALLERGIES: NKDA.\nVITALS: BP 118/76, HR 70.\nASSESSMENT: Contact dermatitis."
        let o = object(task.run([Document(id: .string("n"), text: text)])[0])
        XCTAssertNotNil((o["specialty"] as? [String: Any])?["label"] as? String)
        XCTAssertEqual((o["sections"] as! [[String: Any]]).map { $0["type"] as? String }, ["CC", "GENHX", "MEDICATIONS", "ALLERGY", "EXAM", "ASSESSMENT"])
        XCTAssertEqual((o["vitals"] as! [[String: Any]]).map { $0["value"] as! String }, ["118/76", "70"])
    }

    func testLongUnitIsCutAndMarked() throws {
        let task = try TaskCatalog.make(spec("cuad-clause-types.yaml"), models: Self.models)
        let long = String(repeating: "The Licensee shall pay royalties on all Net Sales of Licensed Products. ", count: 60)
        let o = object(task.run([Document(id: .string("l"), text: long)])[0])
        XCTAssertEqual(o["cut"] as? Bool, true)
        XCTAssertNil(o["truncated"])
    }
}
