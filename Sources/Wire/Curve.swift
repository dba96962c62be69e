import CZeroMQ
import Foundation

/// A CURVE key pair in Z85 text (40 characters each), as `zmq_curve_keypair` makes them.
/// The secret key is a secret: never log it.
public struct CurveKeyPair: Equatable, Sendable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh key pair. Throws when libzmq was built without CURVE (`ZMQContext.has("curve")`).
    public static func generate() throws -> CurveKeyPair {
        var pub = [CChar](repeating: 0, count: 41), sec = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&pub, &sec) == 0 else { throw ZMQError.last("zmq_curve_keypair") }
        return CurveKeyPair(publicKey: String(cString: pub), secretKey: String(cString: sec))
    }

    /// The key pair of a secret key (the public key is derived from it).
    public init(secretKey: String) throws {
        guard Z85.decode(secretKey)?.count == 32 else {
            throw ZMQError(operation: "zmq_curve_public: secret key must be 40 Z85 characters", code: EINVAL)
        }
        var pub = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&pub, secretKey) == 0 else { throw ZMQError.last("zmq_curve_public") }
        self.init(publicKey: String(cString: pub), secretKey: secretKey)
    }

    /// Whether `key` is a well-formed Z85 CURVE key (40 characters, 32 bytes).
    public static func isValidKey(_ key: String) -> Bool { Z85.decode(key)?.count == 32 }
}

/// ZeroMQ's Z85 text encoding of binary keys (RFC 32).
public enum Z85 {
    /// Encode bytes whose count is a multiple of 4; nil otherwise.
    public static func encode(_ bytes: Data) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var out = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        let ok = bytes.withUnsafeBytes { raw in
            zmq_z85_encode(&out, raw.bindMemory(to: UInt8.self).baseAddress, bytes.count) != nil
        }
        return ok ? String(cString: out) : nil
    }

    /// Decode Z85 text whose length is a multiple of 5; nil when it is not valid Z85.
    public static func decode(_ text: String) -> Data? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 5 == 0 else { return nil }
        // zmq_z85_decode does not reject characters outside the alphabet; check them here.
        let alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)
        guard utf8.allSatisfy({ alphabet.contains($0) }) else { return nil }
        var out = [UInt8](repeating: 0, count: utf8.count * 4 / 5)
        guard zmq_z85_decode(&out, text) != nil else { return nil }
        return Data(out)
    }
}

extension ZMQSocket {
    /// Make this socket a CURVE server with the given key pair. Clients are authenticated by the
    /// context's ZAP handler (see `ZAPHandler`); without one, libzmq accepts any client key.
    /// Call before `bind`.
    public func makeCurveServer(_ keys: CurveKeyPair) throws {
        try set([.curveServer(true), .curveSecretKey(keys.secretKey), .curvePublicKey(keys.publicKey)])
    }

    /// Make this socket a CURVE client that only talks to the server holding `serverPublicKey`.
    /// Call before `connect`.
    public func makeCurveClient(_ keys: CurveKeyPair, serverPublicKey: String) throws {
        try set([.curveServerKey(serverPublicKey), .curvePublicKey(keys.publicKey), .curveSecretKey(keys.secretKey)])
    }
}
