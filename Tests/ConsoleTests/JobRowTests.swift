import Console
import XCTest

final class JobRowTests: XCTestCase {
    let now: UInt64 = 1_010_000

    func testRunningJobUsesTheObservedRateWhenTheCoordinatorHasNone() {
        let job = Fixtures.job(total: 1000, done: 512, errors: 2)
        let row = JobRow(job, observedRate: 120.5, nowMs: now)
        XCTAssertEqual(row.line(barWidth: 10), "j000001  embed  running  [█████·····] 51%  512/1000 docs  120.5 docs/s  ETA 4s  2 errors")
        XCTAssertEqual(row.line(), "j000001  embed  running  51%  512/1000 docs  120.5 docs/s  ETA 4s  2 errors")
        XCTAssertEqual(row.line(width: 20), "j000001  embed  run…")
    }

    func testTheCoordinatorsRateAndETAComeFirst() {
        let job = Fixtures.job(total: 1000, done: 512, docsPerSecond: 200, etaSeconds: 10)
        let row = JobRow(job, observedRate: 120.5, nowMs: now)
        XCTAssertEqual(row.rate, "200.0 docs/s")
        XCTAssertEqual(row.eta, "10s")
    }

    func testWithoutAnyRateARunningJobShowsItsAverageSinceItStarted() {
        // 500 documents in the 10 s since it started; 500 to go.
        let row = JobRow(Fixtures.job(total: 1000, done: 500), observedRate: nil, nowMs: now)
        XCTAssertEqual(row.rate, "50.0 docs/s")
        XCTAssertEqual(row.eta, "10s")
        // Within its first second there is no figure yet.
        let early = JobRow(Fixtures.job(total: 1000, done: 20), observedRate: nil, nowMs: 1_000_900)
        XCTAssertEqual(early.rate, "-")
        XCTAssertEqual(early.eta, "-")
    }

    func testAFinishedJobShowsItsAverageOverTheRunAndNoETA() {
        let job = Fixtures.job(state: "completed", total: 1000, done: 1000, errors: 1, finishedMs: 1_004_000, docsPerSecond: 0)
        XCTAssertEqual(JobRow(job, observedRate: 7, nowMs: now).line(),
                       "j000001  embed  completed  100%  1000/1000 docs  250.0 docs/s  ETA -  1 error")
    }

    func testAFailedJobSaysWhy() {
        let job = Fixtures.job(state: "failed", total: 10, done: 3, startedMs: nil, finishedMs: 1_004_000,
                               error: "cannot read the job's spool")
        XCTAssertEqual(JobRow(job, observedRate: nil, nowMs: now).line(),
                       "j000001  embed  failed  30%  3/10 docs  -  ETA -  0 errors  — cannot read the job's spool")
    }

    func testAQueuedJobHasNoRateYetAndAnEmptyJobIsNotDoneUntilCompleted() {
        let queued = JobRow(Fixtures.job(name: "", task: "classify", state: "queued", total: 0, done: 0, startedMs: nil),
                            observedRate: nil, nowMs: now)
        XCTAssertEqual(queued.line(), "j000001  classify  queued  0%  0/0 docs  -  ETA -  0 errors")
        let empty = JobRow(Fixtures.job(state: "completed", total: 0, done: 0, finishedMs: 1_000_500), observedRate: nil, nowMs: now)
        XCTAssertEqual(empty.fraction, 1)
    }
}
