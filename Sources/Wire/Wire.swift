// Wire: the protocol between coordinator, workers and clients: versioned
// messages, their binary encoding, LZ4 frames and the ZeroMQ sockets.
//
// Map of the module:
//   Message, MessageCoding     the protocol: every message kind, its payload structs, encode/decode
//   BinaryWriter, BinaryReader the little-endian field layout; the reader caps every length
//   LZ4Frame                   LZ4 frame format (what `lz4 -dc` reads), bounded decompression
//   ZMQContext, ZMQSocket      libzmq wrapper; ZMQSocketOption, ZMQPoll, ZMQError, ZMQMonitor
//   Curve, ZAPHandler          CURVE key pairs and Z85; the allowed-keys ZAP handler
//   Transport                  the send/receive shape of ROUTER/DEALER, met by ZMQSocket and
//   InMemoryTransport          by the in-memory router/dealer used in deterministic tests
//   Clock                      MillisecondClock, SystemClock, ManualClock
//
// Threading: sockets (and monitors, and in-memory transports as used by the broker) belong to one
// thread each. ZMQContext is thread-safe; ZAPHandler runs its own thread.
