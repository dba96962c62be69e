import DomainTasks
import XCTest

/// The text of a scalar range.
func slice(_ text: String, _ r: Range<Int>) -> String {
    let s = Array(text.unicodeScalars)
    var v = String.UnicodeScalarView()
    v.append(contentsOf: s[r])
    return String(v)
}

final class ClauseSegmenterTests: XCTestCase {
    func testNumberedSectionsWithHeadingsExactOffsets() {
        let text = "1. Term\nThe term is one year.\n\n2. Law\nNew York law applies."
        XCTAssertEqual(ClauseSegmenter().segment(text), [0..<29, 31..<59])
    }

    func testHeadingsNestedItemsAndHardWrap() {
        let text = """
        MASTER AGREEMENT

        1. DEFINITIONS.
        Terms have meanings
        that continue here.

        2. TERM
        2.1 The term is five years.
        (a) first item;
        (b) second item.
        ARTICLE IV
        Section 5. Payment of fees is due monthly.
        """
        let units = ClauseSegmenter().segment(text).map { slice(text, $0) }
        XCTAssertEqual(units, [
            "MASTER AGREEMENT\n\n1. DEFINITIONS.\nTerms have meanings\nthat continue here.",
            "2. TERM\n2.1 The term is five years.",
            "(a) first item;",
            "(b) second item.",
            "ARTICLE IV\nSection 5. Payment of fees is due monthly.",
        ])
    }

    func testWideGapsActAsLineBreaks() {
        // EDGAR filings (CUAD) separate paragraphs with runs of spaces.
        let text = "Recitals text.   1. DEFINITIONS.   All terms apply.   2. TERM.   The term is one year."
        let units = ClauseSegmenter().segment(text).map { slice(text, $0) }
        XCTAssertEqual(units, ["Recitals text.", "1. DEFINITIONS.   All terms apply.", "2. TERM.   The term is one year."])
    }

    func testSentenceFallbackForLongParagraphs() {
        let text = "The first sentence is here. The second one follows. Acme Inc. agrees to it."
        let units = ClauseSegmenter(maxChars: 40).segment(text).map { slice(text, $0) }
        XCTAssertEqual(units, ["The first sentence is here.", "The second one follows.", "Acme Inc. agrees to it."])
    }

    func testOverlongSentenceIsCutAtBlanksAndCoversEverything() {
        let words = (0..<200).map { "word\($0)" }.joined(separator: " ")
        let ranges = ClauseSegmenter(maxChars: 100).segment(words)
        XCTAssertTrue(ranges.allSatisfy { $0.count <= 100 })
        XCTAssertEqual(ranges.map { slice(words, $0) }.joined(separator: " "), words)
    }

    func testOffsetsAreUnicodeScalars() {
        let text = "1. Café 😀 terms.\n\n2. Next clause."
        let ranges = ClauseSegmenter().segment(text)
        XCTAssertEqual(ranges, [0..<16, 18..<33])
        XCTAssertEqual(slice(text, ranges[1]), "2. Next clause.")
    }

    func testFiveMegabyteContractIsLinear() {
        let paragraph = "12.3 The Supplier shall deliver the Products to the Customer within thirty (30) days of each order, and the Customer shall pay within sixty (60) days.   "
        let text = String(repeating: paragraph, count: 5_000_000 / paragraph.utf8.count + 1)
        let start = Date()
        let ranges = ClauseSegmenter().segment(text)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)
        XCTAssertEqual(ranges.count, 5_000_000 / paragraph.utf8.count + 1)
    }
}

final class NoteSectionSegmenterTests: XCTestCase {
    func testHeadingsAndTypes() {
        let text = "CHIEF COMPLAINT: Cough.\nHISTORY OF PRESENT ILLNESS: Three days of cough.\nAssessment/Plan: Viral bronchitis. BP: 120/80 noted.\nMEDICATIONS:,  Aspirin."
        let sections = NoteSectionSegmenter().segment(text)
        XCTAssertEqual(sections.map { $0.type }, ["CC", "GENHX", "ASSESSMENT", "MEDICATIONS"])
        XCTAssertEqual(sections.map { slice(text, $0.heading!) }, ["CHIEF COMPLAINT", "HISTORY OF PRESENT ILLNESS", "Assessment/Plan", "MEDICATIONS"])
        XCTAssertEqual(sections.map { slice(text, $0.body) }, ["Cough.", "Three days of cough.", "Viral bronchitis. BP: 120/80 noted.", "Aspirin."])
        XCTAssertEqual(sections[0].range, 0..<23)
    }

    func testMTSamplesScrapeStyleAndLeadText() {
        let text = "Seen today.,SUBJECTIVE:,  She has allergies.,ALLERGIES: , None known.,HEENT:  Clear."
        let sections = NoteSectionSegmenter().segment(text)
        XCTAssertEqual(sections.map { $0.type }, [nil, "GENHX", "ALLERGY", "EXAM"])
        XCTAssertEqual(slice(text, sections[0].range), "Seen today.")
        XCTAssertEqual(slice(text, sections[2].body), "None known.")
    }

    func testUpperCaseLineWithoutColon() {
        let text = "CHIEF COMPLAINT\n\nKnee pain.\n\nPHYSICAL EXAM\n\nSwollen knee."
        let sections = NoteSectionSegmenter().segment(text)
        XCTAssertEqual(sections.map { $0.type }, ["CC", "EXAM"])
        XCTAssertEqual(sections.map { slice(text, $0.body) }, ["Knee pain.", "Swollen knee."])
    }
}
