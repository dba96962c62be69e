import Foundation
import Wire
import XCTest

final class InMemoryTransportTests: XCTestCase {
    func testSameShapeAsRouterDealer() throws {
        let router = InMemoryRouter()
        let w1 = router.connect(routingId: Data("w1".utf8))
        let w2 = router.connect(routingId: Data("w2".utf8))
        XCTAssertEqual(router.connectedPeers, [Data("w1".utf8), Data("w2".utf8)])

        try w1.send([Data("a".utf8), Data("b".utf8)])
        try w2.send(.ready(credits: 2))
        XCTAssertEqual(router.pendingCount, 2)
        XCTAssertEqual(try router.receive(timeoutMs: 0), [Data("w1".utf8), Data("a".utf8), Data("b".utf8)])
        let second = try XCTUnwrap(router.receive(timeoutMs: 0))
        XCTAssertEqual(second[0], Data("w2".utf8))
        XCTAssertEqual(try Message.decode(frames: Array(second.dropFirst())), .ready(credits: 2))
        XCTAssertNil(try router.receive(timeoutMs: 0))

        try router.send(.heartbeat, to: Data("w2".utf8))
        XCTAssertNil(try w1.receive(timeoutMs: 0))
        XCTAssertEqual(try Message.decode(frames: XCTUnwrap(w2.receive(timeoutMs: 0))), .heartbeat)
    }

    func testUnknownAndDisconnectedPeers() throws {
        let router = InMemoryRouter()
        let w = router.connect(routingId: Data("w".utf8))
        XCTAssertThrowsError(try router.send([Data("nobody".utf8), Data()])) {
            XCTAssertTrue(($0 as? ZMQError)?.isHostUnreachable == true)
        }
        w.disconnect()
        XCTAssertThrowsError(try router.send([Data("w".utf8), Data()])) {
            XCTAssertTrue(($0 as? ZMQError)?.isHostUnreachable == true)
        }
        XCTAssertThrowsError(try w.send([Data()]))
        // Reconnecting with the same id takes the id over.
        let again = router.connect(routingId: Data("w".utf8))
        try router.send([Data("w".utf8), Data("x".utf8)])
        XCTAssertEqual(try again.receive(timeoutMs: 0), [Data("x".utf8)])
    }

    /// Both transports satisfy one protocol, so the broker can be written against `Transport`.
    func testGenericCodeRunsOnBothTransports() throws {
        func echoOnce(_ router: Transport, _ dealer: Transport) throws -> Message? {
            try dealer.send(.status(jobId: "j"))
            guard let m = try router.receive(timeoutMs: 5000) else { return nil }
            try router.send(.statusReply(json: Data("{}".utf8)), to: m[0])
            return try dealer.receive(timeoutMs: 5000).map { try Message.decode(frames: $0) }
        }
        let memory = InMemoryRouter()
        XCTAssertEqual(try echoOnce(memory, memory.connect(routingId: Data("c".utf8))), .statusReply(json: Data("{}".utf8)))

        let context = try ZMQContext()
        let router = try context.socket(.router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try context.socket(.dealer)
        try dealer.connect(try router.lastEndpoint())
        XCTAssertEqual(try echoOnce(router, dealer), .statusReply(json: Data("{}".utf8)))
    }

    func testTimedReceiveWaitsForAnotherThread() throws {
        let router = InMemoryRouter()
        let dealer = router.connect(routingId: Data("d".utf8))
        let start = Date()
        XCTAssertNil(try router.receive(timeoutMs: 100))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.09)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { try? dealer.send([Data("late".utf8)]) }
        XCTAssertEqual(try router.receive(timeoutMs: 5000)?.last, Data("late".utf8))
    }

    func testManualClock() {
        let clock = ManualClock(startMs: 1000)
        XCTAssertEqual(clock.nowMs, 1000)
        clock.advance(byMs: 250)
        XCTAssertEqual(clock.nowMs, 1250)
        clock.set(toMs: 5000)
        XCTAssertEqual(clock.nowMs, 5000)
        let system = SystemClock()
        let a = system.nowMs
        XCTAssertGreaterThanOrEqual(system.nowMs, a)
    }
}
