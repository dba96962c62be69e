// Wire: the protocol between coordinator, workers and clients: versioned
// messages, their binary encoding, LZ4 frames and the ZeroMQ sockets.
