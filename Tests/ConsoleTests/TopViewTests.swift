import Console
import Coordinator
import XCTest

final class TopViewTests: XCTestCase {
    let now: UInt64 = 1_010_000
    var jobs: [JobStatus] {
        [Fixtures.job(total: 1000, done: 512, errors: 2),
         Fixtures.job("j000002", name: "contract-review", state: "completed", total: 300, done: 300, finishedMs: 1_001_200)]
    }
    var rows: [JobRow] { jobs.enumerated().map { JobRow($1, observedRate: $0 == 0 ? 120.5 : nil, nowMs: now) } }
    var workers: [WorkerStatus] {
        [Fixtures.worker("w2", shards: ["j000001/3", "j000001/4"], docsPerSecond: 90.06, heartbeatAgeMs: 412, shardsDone: 7),
         Fixtures.worker("old", connected: false, shardsDone: 3),
         Fixtures.worker("w1", heartbeatAgeMs: 65_000, shardsDone: 12)]
    }

    func testPlainFrameHasNoBarsAndNoBlankLines() {
        let frame = TopView(terminal: false).frame(title: "dojo top", allJobs: jobs, rows: rows, allWorkers: workers, workers: workers)
        XCTAssertEqual(frame, [
            "dojo top",
            "jobs: 1 running, 0 queued, 1 finished · workers: 2 connected (1 busy), 1 lost",
            "JOB      NAME             STATE      PROGRESS           DOCS          RATE  ETA  ERRORS",
            "j000001  embed            running         51%  512/1000 docs  120.5 docs/s   4s       2",
            "j000002  contract-review  completed      100%   300/300 docs  250.0 docs/s    -       0",
            "WORKER  STATE      ACTIVITY  SHARDS                      RATE  HEARTBEAT  DONE",
            "w1      connected  idle      -                     0.0 docs/s      1m05s    12",
            "w2      connected  busy      j000001/3,j000001/4  90.1 docs/s       0.4s     7",
            "old     lost       -         -                              -          -     3",
        ])
    }

    func testTerminalBarsTakeTheWidthTheOtherColumnsLeave() {
        let table = TopView(terminal: true, width: 104).jobTable(rows)
        XCTAssertEqual(table, [
            "JOB      NAME             STATE                       PROGRESS           DOCS          RATE  ETA  ERRORS",
            "j000001  embed            running    [█████████·········]  51%  512/1000 docs  120.5 docs/s   4s       2",
            "j000002  contract-review  completed  [██████████████████] 100%   300/300 docs  250.0 docs/s    -       0",
        ])
        XCTAssertEqual(table.map(\.count), [104, 104, 104])
        // Wide terminals stop at 30 cells; narrow ones drop the bar rather than squeeze it.
        XCTAssertTrue(TopView(terminal: true, width: 300).jobTable(rows)[1].contains("[" + String(repeating: "█", count: 15) + String(repeating: "·", count: 15) + "]"))
        XCTAssertEqual(TopView(terminal: true, width: 80).jobTable(rows)[1],
                       "j000001  embed            running         51%  512/1000 docs  120.5 docs/s   4s       2")
        // Unknown width: a bar of 20.
        XCTAssertTrue(TopView(terminal: true).jobTable(rows)[1].contains("[" + String(repeating: "█", count: 10) + String(repeating: "·", count: 10) + "]"))
    }

    func testTerminalFrameIsCutToTheScreen() {
        let frame = TopView(terminal: true, width: 40, height: 5).frame(title: "dojo top", allJobs: jobs, rows: rows,
                                                                        allWorkers: workers, workers: workers)
        XCTAssertEqual(frame, [
            "dojo top",
            "jobs: 1 running, 0 queued, 1 finished ·…",
            "JOB      NAME             STATE      PR…",
            "j000001  embed            running      …",
            "(5 more lines; enlarge the terminal or …",
        ])
    }

    func testFailedJobsSayWhyUnderTheTable() {
        let failed = JobRow(Fixtures.job("j000003", state: "failed", total: 10, done: 0, startedMs: nil, error: "spool unreadable"),
                            observedRate: nil, nowMs: now)
        XCTAssertEqual(TopView(terminal: false).jobTable([failed]), [
            "JOB      NAME   STATE   PROGRESS       DOCS  RATE  ETA  ERRORS",
            "j000003  embed  failed        0%  0/10 docs     -    -       0",
            "j000003 failed: spool unreadable",
        ])
    }

    func testSelectionKeepsUnfinishedJobsAndTheLastFinishedOnes() {
        var all: [JobStatus] = (1...8).map { i in
            Fixtures.job(String(format: "j%06d", i), state: "completed", total: 1, done: 1, finishedMs: UInt64(2_000_000 + i))
        }
        all.append(Fixtures.job("j000009", state: "queued", total: 5, done: 0, startedMs: nil))
        let (shown, hidden) = TopView.select(all, recentFinished: 3)
        XCTAssertEqual(shown.map(\.id), ["j000006", "j000007", "j000008", "j000009"])
        XCTAssertEqual(hidden, 5)
        let frame = TopView(terminal: false).frame(title: "t", allJobs: all, rows: shown.map { JobRow($0, observedRate: nil, nowMs: now) },
                                                   allWorkers: [], workers: [])
        XCTAssertEqual(Array(frame.suffix(2)), ["(5 older finished jobs not shown)", "no workers"])
    }

    func testSelectionKeepsConnectedWorkersAndTheLastLostOnes() {
        let all = [Fixtures.worker("a", connected: false, lastSeenMs: 10), Fixtures.worker("b", connected: false, lastSeenMs: 30),
                   Fixtures.worker("c"), Fixtures.worker("d", connected: false, lastSeenMs: 20)]
        let (shown, hidden) = TopView.select(all, recentLost: 2)
        XCTAssertEqual(shown.map(\.name), ["b", "c", "d"])
        XCTAssertEqual(hidden, 1)
    }

    func testBusyWorkersListAtMostThreeShards() {
        let w = Fixtures.worker("w", shards: ["j1/0", "j1/1", "j1/2", "j1/3", "j1/4"], docsPerSecond: 5, heartbeatAgeMs: 0)
        XCTAssertEqual(TopView(terminal: false).workerTable([w])[1], "w       connected  busy      j1/0,j1/1,j1/2 +2  5.0 docs/s       0.0s     0")
    }
}
