import Coordinator
import Foundation
import Wire
import XCTest

/// The broker's snapshot for other threads: published at most every 250 ms, and the health check's
/// view of whether the loop still turns.
final class LiveStateTests: XCTestCase {
    func testSnapshotIsThrottledAndShowsTheLoopAlive() throws {
        let clock = ManualClock(startMs: 0)
        let router = InMemoryRouter()
        let broker = try Broker(transport: router, dataDirectory: try makeDataDirectory(self), clock: clock)
        XCTAssertNil(broker.live.current.publishedMs)
        XCTAssertFalse(broker.live.loopAlive(withinMs: 30_000), "alive before the loop ever turned")

        broker.poll(timeoutMs: 0)
        XCTAssertEqual(broker.live.current.publishedMs, 0)
        XCTAssertTrue(broker.live.current.workers.isEmpty)

        // A worker joins 100 ms later: not published until 250 ms after the last publication.
        let worker = router.connect(routingId: Data([0x0A]))
        try worker.send(.hello(Hello(workerName: "box", threads: 1)))
        clock.set(toMs: 100)
        broker.poll(timeoutMs: 0)
        XCTAssertTrue(broker.live.current.workers.isEmpty)
        clock.set(toMs: 250)
        broker.poll(timeoutMs: 0)
        XCTAssertEqual(broker.live.current.publishedMs, 250)
        XCTAssertEqual(broker.live.current.workers.values.map(\.info.name), ["box"])
        XCTAssertEqual(broker.live.current.workers["0a"]?.lastHeardMs, 100)

        // A loop that stops turning is reported after the limit.
        clock.set(toMs: 30_250)
        XCTAssertTrue(broker.live.loopAlive(withinMs: 30_000))
        clock.set(toMs: 30_251)
        XCTAssertFalse(broker.live.loopAlive(withinMs: 30_000))
    }
}
