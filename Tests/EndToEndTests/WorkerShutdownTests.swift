import Foundation
import TestSupport
import XCTest

/// A worker stopped with SIGTERM says goodbye before it exits, so the coordinator records it as
/// gone rather than lost (a lost worker's leases would count as crashes against their shards).
final class WorkerShutdownTests: XCTestCase {
    func testStoppedWorkersGoodbyeReachesTheCoordinatorOverTCP() throws {
        let cluster = ClusterHarness(name)
        defer { cluster.stopAll() }
        cluster.endpoint = "tcp://127.0.0.1:\(Int.random(in: 20_000..<60_000))"
        try cluster.startCoordinator()
        for round in 1...5 {
            let worker = try cluster.startWorker("w\(round)")
            try cluster.waitUntil(timeout: 20) { cluster.log("coordinator").contains("worker=w\(round) ") }
            kill(worker.processIdentifier, SIGTERM)
            try cluster.waitUntil(timeout: 20) { !worker.isRunning }
            XCTAssertEqual(worker.terminationStatus, 0, cluster.log("w\(round)"))
            try cluster.waitUntil(timeout: 5) { cluster.log("coordinator").contains("worker left reason=\"worker stopping\" worker=w\(round) ") }
        }
        XCTAssertFalse(cluster.log("coordinator").contains("expired"), cluster.log("coordinator"))
    }
}
