import DomainTasks
import XCTest

final class EvaluationTests: XCTestCase {
    func testMetricsOnAHandMadeConfusion() {
        // gold A: 3 (2 right, 1 → B); gold B: 2 (1 right, 1 → A); gold C: 1 → A.
        let pairs: [(gold: String, predicted: String)] = [("A", "A"), ("A", "A"), ("A", "B"), ("B", "B"), ("B", "A"), ("C", "A")]
        let e = Evaluation(known: ["A", "B", "C"], pairs: pairs)
        XCTAssertEqual(e.confusion, [[2, 1, 0], [1, 1, 0], [1, 0, 0]])
        XCTAssertEqual(e.correct, 3)
        XCTAssertEqual(e.accuracy, 0.5)
        // A: p 2/4, r 2/3, f1 4/7; B: p 1/2, r 1/2, f1 1/2; C: 0.
        XCTAssertEqual(e.perLabel[0].precision, 0.5)
        XCTAssertEqual(e.perLabel[0].recall, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(e.perLabel[1].f1, 0.5)
        XCTAssertEqual(e.perLabel[2].f1, 0)
        XCTAssertEqual(e.macroF1, (4.0 / 7.0 + 0.5 + 0) / 3, accuracy: 1e-12)
        let json = EvalReport.json(e)
        let o = try! JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        XCTAssertEqual(o["accuracy"] as? Double, 0.5)
        XCTAssertNotNil(o["macro_f1"])
        XCTAssertEqual((o["confusion"] as? [[Int]]), [[2, 1, 0], [1, 1, 0], [1, 0, 0]])
        XCTAssertNotNil((o["per_label"] as? [String: Any])?["A"])
        let html = EvalReport.html(e, title: "t <x>")
        XCTAssertTrue(html.contains("<table class=\"cm\">"))
        XCTAssertTrue(html.contains("t &lt;x&gt;"))
        XCTAssertFalse(html.contains("http"))
        XCTAssertTrue(EvalReport.text(e, title: "t").contains("top-1 accuracy 50.0% (3/6)"))
    }

    func testLabelsOutsideTheClassifierCountAsErrors() {
        let e = Evaluation(known: ["A"], pairs: [("A", "A"), ("Z", "A")])
        XCTAssertEqual(e.labels, ["A", "Z"])
        XCTAssertEqual(e.accuracy, 0.5)
        XCTAssertEqual(Evaluation.gold(label: "A", labels: ["A", "B"], predicted: "B"), "B")
    }
}
