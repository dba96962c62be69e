import DomainTasks
import XCTest

final class ContractRulesTests: XCTestCase {
    static let contract = """
    This Agreement is made as of March 1, 2020 by and between Acme Corp., a Delaware corporation ("Acme"), and Widget LLC ("Widget").

    This Agreement shall be governed by the laws of the State of New York.

    The initial term is three (3) years. This Agreement shall automatically renew for successive one (1) year periods unless either party gives ninety (90) days' prior written notice.

    In no event shall either party's liability exceed $1,000,000.

    Licensee may terminate this Agreement for convenience upon thirty (30) days notice.
    """

    func clauses() -> ([Unicode.Scalar], [TypedClause]) {
        let s = Array(Self.contract.unicodeScalars)
        return (s, ClauseSegmenter().segment(s).map { TypedClause(range: $0, type: "Other", score: 0.1) })
    }

    func testAnswersWithOffsets() {
        let (s, clauses) = clauses()
        XCTAssertEqual(clauses.count, 5)
        let answers = Dictionary(uniqueKeysWithValues: ContractAnswers.find(s, clauses: clauses).map { ($0.key, $0.found) })
        func value(_ k: String) -> String? { answers[k]?.first?.value }
        XCTAssertEqual(answers["parties"]?.map(\.value), ["Acme Corp.", "Widget LLC"])
        XCTAssertEqual(value("agreement_date"), "March 1, 2020")
        XCTAssertEqual(value("governing_law"), "New York")
        XCTAssertEqual(value("expiration_date"), "three (3) years")
        XCTAssertEqual(value("renewal_term"), "one (1) year")
        XCTAssertEqual(value("notice_period"), "ninety (90) days")
        XCTAssertEqual(value("liability_cap"), "$1,000,000")
        XCTAssertNil(answers["effective_date"])
        // Offsets point into the contract.
        for (_, found) in answers { for f in found { XCTAssertEqual(slice(Self.contract, f.start..<f.end), f.value) } }
        XCTAssertEqual(answers["governing_law"]?.first?.clause, 1)
        let date = answers["agreement_date"]!.first!
        XCTAssertEqual(date.start, 29)
        XCTAssertEqual(date.end, 42)
    }

    func testRiskFlagsExact() {
        let (s, clauses) = clauses()
        let flags = RiskFlags().flags(s, clauses: clauses)
        XCTAssertEqual(flags.map(\.type), ["auto_renewal", "termination_for_convenience"])
        XCTAssertEqual(flags.map(\.clause), [2, 4])
        XCTAssertEqual(flags[0].reason, "renews automatically: \"automatically renew\"")
        XCTAssertEqual(flags[1].reason, "Licensee can terminate without cause: \"terminate this Agreement for convenience\"")
        // The reviewing party's own right is not a risk to it.
        XCTAssertEqual(RiskFlags(party: "Licensee").flags(s, clauses: clauses).map(\.type), ["auto_renewal"])
        // Configurable per job.
        XCTAssertEqual(RiskFlags(enabled: ["non_compete"]).flags(s, clauses: clauses), [])
    }

    func testEachFlagOnAHandMadeClause() {
        let cases: [(String, String)] = [
            ("uncapped_liability", "The foregoing limitations shall not apply to breaches of confidentiality."),
            ("non_compete", "Distributor shall not sell any competing products during the term."),
            ("exclusivity", "Company appoints Reseller as its exclusive distributor in Canada."),
            ("ip_assignment", "Contractor hereby assigns to Company all right, title and interest in the Work Product."),
            ("most_favored_nation", "Supplier shall offer prices no less favorable than those offered to any other customer."),
            ("change_of_control", "Either party may terminate upon a change of control of the other party."),
            ("unlimited_audit_rights", "Licensor may audit Licensee's books and records at any time."),
        ]
        for (flag, text) in cases {
            let s = Array(text.unicodeScalars)
            let found = RiskFlags(enabled: [flag]).flags(s, clauses: [TypedClause(range: 0..<s.count, type: "Other", score: 0)])
            XCTAssertEqual(found.map(\.type), [flag], text)
        }
        let limited = Array("Licensor may audit Licensee's records no more than once per calendar year.".unicodeScalars)
        XCTAssertEqual(RiskFlags(enabled: ["unlimited_audit_rights"]).flags(limited, clauses: [TypedClause(range: 0..<limited.count, type: "Audit Rights", score: 0.9)]), [])
        let nonExclusive = Array("Licensor grants a non-exclusive license to use the Software.".unicodeScalars)
        XCTAssertEqual(RiskFlags(enabled: ["exclusivity"]).flags(nonExclusive, clauses: [TypedClause(range: 0..<nonExclusive.count, type: "License Grant", score: 0.9)]), [])
    }

    func testUnknownFlagIsASpecError() {
        XCTAssertThrowsError(try RiskFlags.validate(["auto_renewal", "bogus"], source: "spec.yaml")) { e in
            XCTAssertTrue("\(e)".contains("unknown flag 'bogus'"))
        }
    }
}
