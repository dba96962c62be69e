import Console
import XCTest

final class FormatTests: XCTestCase {
    func testBarFillsOnlyWholeCells() {
        XCTAssertEqual(Format.bar(0.5, width: 10), "[█████·····]")
        XCTAssertEqual(Format.bar(0.999, width: 10), "[█████████·]")
        XCTAssertEqual(Format.bar(1.2, width: 4), "[████]")
        XCTAssertEqual(Format.bar(-1, width: 3), "[···]")
        XCTAssertEqual(Format.bar(0.5, width: 0), "[]")
    }

    func testPercentRoundsDownSoHundredMeansDone() {
        XCTAssertEqual(Format.percent(0.999), "99%")
        XCTAssertEqual(Format.percent(1), "100%")
        XCTAssertEqual(Format.percent(0.005), "0%")
        XCTAssertEqual(Format.percent(0.51), "51%")
        XCTAssertEqual(Format.percent(29.0 / 100), "29%")
    }

    func testRate() {
        XCTAssertEqual(Format.rate(nil), "-")
        XCTAssertEqual(Format.rate(120.46), "120.5 docs/s")
        XCTAssertEqual(Format.rate(0), "0.0 docs/s")
        XCTAssertEqual(Format.rate(.nan), "-")
        XCTAssertEqual(Format.rate(-3), "-")
        XCTAssertEqual(Format.rate(1500, unit: "tokens/s"), "1500.0 tokens/s")
    }

    func testDurations() {
        XCTAssertEqual(Format.duration(0), "0s")
        XCTAssertEqual(Format.duration(44.6), "45s")
        XCTAssertEqual(Format.duration(60), "1m00s")
        XCTAssertEqual(Format.duration(187), "3m07s")
        XCTAssertEqual(Format.duration(3599.6), "1h00m")
        XCTAssertEqual(Format.duration(7500), "2h05m")
        XCTAssertEqual(Format.duration(3 * 86_400 + 4 * 3600), "3d04h")
        XCTAssertEqual(Format.duration(nil), "-")
        XCTAssertEqual(Format.duration(-1), "-")
        XCTAssertEqual(Format.duration(.infinity), "-")
    }

    func testHeartbeatAge() {
        XCTAssertEqual(Format.age(milliseconds: 1234), "1.2s")
        XCTAssertEqual(Format.age(milliseconds: 0), "0.0s")
        XCTAssertEqual(Format.age(milliseconds: 65_000), "1m05s")
        XCTAssertEqual(Format.age(milliseconds: nil), "-")
    }

    func testFitCutsWithAnEllipsis() {
        XCTAssertEqual(Format.fit("abcdef", width: 4), "abc…")
        XCTAssertEqual(Format.fit("abcd", width: 4), "abcd")
        XCTAssertEqual(Format.fit("abc", width: 0), "")
    }

    func testRateTrackerUsesTheSlopeOverItsWindow() {
        var t = RateTracker(window: 30, minimumSpan: 0.5)
        XCTAssertNil(t.observe("j", docs: 100, at: 10))
        XCTAssertNil(t.observe("j", docs: 130, at: 10.3))
        XCTAssertEqual(t.observe("j", docs: 200, at: 11), 100)
        // 39 s later the samples older than the window are gone: the slope is over [11, 50].
        XCTAssertEqual(t.observe("j", docs: 4100, at: 50), 100)
        XCTAssertEqual(t.observe("j", docs: 4200, at: 51), 100)
        // A count that goes down (a resubmitted id, a reset store) starts over.
        XCTAssertNil(t.observe("j", docs: 10, at: 52))
        // Jobs are tracked separately and forgotten on request.
        XCTAssertNil(t.observe("k", docs: 0, at: 52))
        t.keep(only: ["k"])
        XCTAssertNil(t.observe("j", docs: 500, at: 60))
        XCTAssertEqual(t.observe("k", docs: 80, at: 60), 10)
    }

    func testTableAlignsColumnsAndTrimsTrailingBlanks() {
        let t = Table(header: ["NAME", "N", "NOTE"], rows: [["a", "5", ""], ["bbbbbb", "123", "x"]], rightAligned: [1])
        XCTAssertEqual(t.lines(), [
            "NAME      N  NOTE",
            "a         5",
            "bbbbbb  123  x",
        ])
    }
}
