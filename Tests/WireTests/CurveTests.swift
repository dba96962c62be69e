import Foundation
import Wire
import XCTest

final class CurveTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(ZMQContext.has("curve"), "libzmq built without CURVE")
    }

    func testKeyPairsAndZ85() throws {
        let keys = try CurveKeyPair.generate()
        XCTAssertEqual(keys.publicKey.utf8.count, 40)
        XCTAssertEqual(keys.secretKey.utf8.count, 40)
        XCTAssertTrue(CurveKeyPair.isValidKey(keys.publicKey))
        XCTAssertNotEqual(keys, try CurveKeyPair.generate())
        XCTAssertEqual(try CurveKeyPair(secretKey: keys.secretKey), keys, "public key derives from the secret key")
        XCTAssertThrowsError(try CurveKeyPair(secretKey: "too short"))

        // RFC 32 test vector.
        let bytes = Data([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])
        XCTAssertEqual(Z85.encode(bytes), "HelloWorld")
        XCTAssertEqual(Z85.decode("HelloWorld"), bytes)
        XCTAssertNil(Z85.encode(Data([1, 2, 3])))
        XCTAssertNil(Z85.decode("Hello"+"Worl"))
        XCTAssertNil(Z85.decode("Hello Worl"), "space is not in the Z85 alphabet")
    }

    /// A DEALER whose key the ZAP handler allows talks to a CURVE ROUTER; one with an unknown key is
    /// refused, and its monitor says so within the timeout.
    func testCurveRouterAcceptsAllowedKeyAndRefusesUnknownKey() throws {
        let context = try ZMQContext()
        let serverKeys = try CurveKeyPair.generate()
        let allowedKeys = try CurveKeyPair.generate()
        let unknownKeys = try CurveKeyPair.generate()

        let zap = try ZAPHandler(context: context, allowedPublicKeys: [allowedKeys.publicKey])
        defer { zap.stop() }

        let router = try context.socket(.router)
        try router.makeCurveServer(serverKeys)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()

        // Allowed client.
        let good = try context.socket(.dealer)
        try good.makeCurveClient(allowedKeys, serverPublicKey: serverKeys.publicKey)
        let goodMonitor = try ZMQMonitor(good, events: .handshake)
        try good.connect(endpoint)
        XCTAssertEqual(try goodMonitor.awaitHandshake(timeoutMs: 5000), .succeeded)
        try good.send(.ready(credits: 1))
        let got = try XCTUnwrap(router.receive(timeoutMs: 5000))
        XCTAssertEqual(try Message.decode(frames: Array(got.dropFirst())), .ready(credits: 1))
        try router.send(.heartbeat, to: got[0])
        XCTAssertEqual(try Message.decode(frames: XCTUnwrap(good.receive(timeoutMs: 5000))), .heartbeat)

        // Unknown client: refused with ZAP status 400; its messages never reach the router.
        let bad = try context.socket(.dealer)
        try bad.makeCurveClient(unknownKeys, serverPublicKey: serverKeys.publicKey)
        let badMonitor = try ZMQMonitor(bad, events: .handshake)
        try bad.connect(endpoint)
        try bad.send(.ready(credits: 1))
        XCTAssertEqual(try badMonitor.awaitHandshake(timeoutMs: 5000), .refused(statusCode: 400))
        XCTAssertNil(try router.receive(timeoutMs: 300))

        // A client that expects another server key never completes the handshake.
        let confused = try context.socket(.dealer)
        try confused.makeCurveClient(allowedKeys, serverPublicKey: unknownKeys.publicKey)
        try confused.set(.handshakeInterval(ms: 300))
        let confusedMonitor = try ZMQMonitor(confused, events: .handshake)
        try confused.connect(endpoint)
        XCTAssertNotEqual(try confusedMonitor.awaitHandshake(timeoutMs: 1000), .succeeded)

        // Keys can be allowed later without restarting the server.
        zap.setAllowedPublicKeys([allowedKeys.publicKey, unknownKeys.publicKey])
        let late = try context.socket(.dealer)
        try late.makeCurveClient(unknownKeys, serverPublicKey: serverKeys.publicKey)
        let lateMonitor = try ZMQMonitor(late, events: .handshake)
        try late.connect(endpoint)
        XCTAssertEqual(try lateMonitor.awaitHandshake(timeoutMs: 5000), .succeeded)
    }

    /// Dropping a handler stops its thread and frees the ZAP endpoint for a new one.
    func testZAPHandlerLifecycle() throws {
        let context = try ZMQContext()
        do {
            let first = try ZAPHandler(context: context, allowedPublicKeys: [])
            try withExtendedLifetime(first) {
                XCTAssertThrowsError(try ZAPHandler(context: context, allowedPublicKeys: []), "one handler per context")
            }
        }
        let second = try ZAPHandler(context: context, allowedPublicKeys: ["x"])
        XCTAssertEqual(second.allowedPublicKeys, ["x"])
        second.stop()
        second.stop()
    }

    /// A client whose server never answers sees `.timedOut`, not a hang.
    func testAwaitHandshakeTimesOut() throws {
        let context = try ZMQContext()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wire-\(UUID().uuidString).ipc").path
        let client = try context.socket(.dealer)
        try client.makeCurveClient(try CurveKeyPair.generate(), serverPublicKey: try CurveKeyPair.generate().publicKey)
        let monitor = try ZMQMonitor(client, events: .handshake)
        try client.connect("ipc://\(path)") // nobody listening
        let start = Date()
        XCTAssertEqual(try monitor.awaitHandshake(timeoutMs: 200), .timedOut)
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.0)
    }
}
