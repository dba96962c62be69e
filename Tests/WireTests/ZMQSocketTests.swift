import Foundation
import Wire
import XCTest

final class ZMQSocketTests: XCTestCase {
    private var context: ZMQContext!
    private var ipcPath: String!

    override func setUpWithError() throws {
        context = try ZMQContext()
        ipcPath = FileManager.default.temporaryDirectory.appendingPathComponent("wire-\(UUID().uuidString).ipc").path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: ipcPath)
        context = nil
    }

    /// A ROUTER bound on `endpoint` (wildcard ports resolved) and a DEALER connected to it.
    private func pair(_ endpoint: String, routerOptions: [ZMQSocketOption] = [],
                      dealerId: String = "worker-1") throws -> (router: ZMQSocket, dealer: ZMQSocket, endpoint: String) {
        let router = try context.socket(.router)
        try router.set(routerOptions + [.routerMandatory(true)])
        try router.bind(endpoint)
        let bound = try router.lastEndpoint()
        let dealer = try context.socket(.dealer)
        try dealer.set(.routingId(Data(dealerId.utf8)))
        try dealer.connect(bound)
        return (router, dealer, bound)
    }

    private func roundTrip(_ endpoint: String) throws {
        let (router, dealer, bound) = try pair(endpoint)
        XCTAssertFalse(bound.hasSuffix("*"), bound)
        let body = [Data("hello".utf8), Data(), Data(repeating: 7, count: 100_000)]
        try dealer.send(body)
        let got = try XCTUnwrap(router.receive(timeoutMs: 5000))
        XCTAssertEqual(got, [Data("worker-1".utf8)] + body, "ROUTER prepends the DEALER's routing id")
        try router.send([got[0], Data("reply".utf8), Data([1, 2, 3])])
        XCTAssertEqual(try dealer.receive(timeoutMs: 5000), [Data("reply".utf8), Data([1, 2, 3])])
    }

    func testRouterDealerMultipartRoundTripOverTCP() throws {
        try roundTrip("tcp://127.0.0.1:*")
    }

    func testRouterDealerMultipartRoundTripOverIPC() throws {
        try roundTrip("ipc://\(ipcPath!)")
    }

    func testProtocolMessagesThroughTransportHelpers() throws {
        let (router, dealer, _) = try pair("ipc://\(ipcPath!)")
        let hello = Message.hello(Hello(workerName: "w", threads: 2, cpuFeatures: ["avx2"]))
        try dealer.send(hello)
        let got = try XCTUnwrap(router.receive(timeoutMs: 5000))
        XCTAssertEqual(try Message.decode(frames: Array(got.dropFirst())), hello)
        try router.send(.heartbeat, to: got[0])
        XCTAssertEqual(try Message.decode(frames: XCTUnwrap(dealer.receive(timeoutMs: 5000))), .heartbeat)
    }

    func testTimedReceiveReturnsNilOnTimeout() throws {
        let (router, dealer, _) = try pair("tcp://127.0.0.1:*")
        XCTAssertNil(try router.receive(timeoutMs: 0))
        let start = Date()
        XCTAssertNil(try dealer.receive(timeoutMs: 200))
        let elapsed = Date().timeIntervalSince(start)
        XCTAssertGreaterThanOrEqual(elapsed, 0.15)
        XCTAssertLessThan(elapsed, 2.0)
    }

    func testRouterMandatoryReportsUnknownPeer() throws {
        let (router, _, _) = try pair("ipc://\(ipcPath!)")
        XCTAssertThrowsError(try router.send([Data("nobody".utf8), Data("x".utf8)])) {
            XCTAssertTrue(($0 as? ZMQError)?.isHostUnreachable == true, "\($0)")
        }
    }

    /// A message over MAXMSGSIZE is dropped by the receiver (libzmq closes that connection); the
    /// dealer reconnects and later messages arrive.
    func testOversizedMessageIsDroppedByReceiver() throws {
        let (router, dealer, _) = try pair("tcp://127.0.0.1:*", routerOptions: [.maxMessageSize(bytes: 1000)])
        try dealer.set(.reconnectInterval(ms: 50))
        try dealer.send([Data(repeating: 1, count: 5000)])
        XCTAssertNil(try router.receive(timeoutMs: 500), "oversized message must not be delivered")
        try dealer.send([Data("small".utf8)])
        let got = try XCTUnwrap(router.receive(timeoutMs: 5000))
        XCTAssertEqual(got.last, Data("small".utf8))
    }

    /// With no peer, a DEALER queues at most SNDHWM messages, then a non-blocking send reports would-block.
    func testSendHighWaterMarkIsHonoured() throws {
        let dealer = try context.socket(.dealer)
        try dealer.set(.sendHighWaterMark(messages: 4))
        try dealer.connect("ipc://\(ipcPath!)") // nobody listening
        var accepted = 0
        for _ in 0 ..< 100 {
            if try dealer.send([Data("m".utf8)], dontWait: true) { accepted += 1 } else { break }
        }
        XCTAssertEqual(accepted, 4)
        // A blocking send with a send timeout gives up with a would-block error.
        try dealer.set(.sendTimeout(ms: 50))
        XCTAssertThrowsError(try dealer.send([Data("m".utf8)])) {
            XCTAssertTrue(($0 as? ZMQError)?.isWouldBlock == true, "\($0)")
        }
    }

    func testPollOverSeveralSockets() throws {
        let router = try context.socket(.router)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let a = try context.socket(.dealer), b = try context.socket(.dealer)
        try a.set(.routingId(Data("a".utf8)))
        try b.set(.routingId(Data("b".utf8)))
        try a.connect(endpoint)
        try b.connect(endpoint)
        let items = [ZMQPollItem(a, .readable), ZMQPollItem(b, .readable), ZMQPollItem(router, .readable)]
        XCTAssertEqual(try ZMQPoll.poll(items, timeoutMs: 50), [[], [], []])

        // Learn both peers, then answer only b.
        try a.send([Data("hi".utf8)])
        try b.send([Data("hi".utf8)])
        var peers: Set<Data> = []
        while peers.count < 2, let m = try router.receive(timeoutMs: 5000) { peers.insert(m[0]) }
        XCTAssertEqual(peers, [Data("a".utf8), Data("b".utf8)])
        try router.send([Data("b".utf8), Data("for b".utf8)])
        let ready = try ZMQPoll.poll(items, timeoutMs: 5000)
        XCTAssertEqual(ready, [[], .readable, []])
        XCTAssertEqual(try b.receive(timeoutMs: 0), [Data("for b".utf8)])
    }

    func testOptionsAndErrors() throws {
        let s = try context.socket(.router)
        try s.set([.sendHighWaterMark(messages: 1000), .receiveHighWaterMark(messages: 1000),
                   .maxMessageSize(bytes: 64 << 20), .linger(ms: 100), .routerMandatory(true), .routerHandover(true),
                   .heartbeatInterval(ms: 1000), .heartbeatTimeout(ms: 3000), .heartbeatTTL(ms: 3000),
                   .handshakeInterval(ms: 5000), .immediate(false)])
        XCTAssertThrowsError(try s.bind("bogus://nowhere")) { error in
            let e = error as? ZMQError
            XCTAssertNotNil(e)
            XCTAssertTrue(e?.description.contains("zmq_bind(bogus://nowhere)") == true, "\(error)")
        }
        s.close()
        XCTAssertThrowsError(try s.bind("tcp://127.0.0.1:*"))
        let d = try context.socket(.dealer)
        try d.set(.routingId(Data("me".utf8)))
        XCTAssertEqual(try d.routingId(), Data("me".utf8))
    }

    /// `shutdown()` wakes a thread blocked in `receive` with a context-terminated error, so worker
    /// threads can be stopped.
    func testContextShutdownWakesBlockedReceive() throws {
        let local = try ZMQContext()
        let socket = try local.socket(.dealer)
        try socket.connect("ipc://\(ipcPath!)")
        let done = expectation(description: "receive returned")
        let box = ErrorBox()
        Thread {
            do { _ = try socket.receive(timeoutMs: -1) } catch { box.error = error }
            socket.close()
            done.fulfill()
        }.start()
        Thread.sleep(forTimeInterval: 0.1)
        local.shutdown()
        wait(for: [done], timeout: 5)
        XCTAssertTrue((box.error as? ZMQError)?.isContextTerminated == true, "\(String(describing: box.error))")
    }
}

private final class ErrorBox: @unchecked Sendable {
    var error: Error?
}
