import Foundation
import Kernels
import Worker
import XCTest

final class WorkerProfileTests: XCTestCase {
    func write(_ yaml: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("profile-\(UUID().uuidString).yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testTheShippedProfileLoadsWithItsValues() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let profile = try WorkerProfile.load(root.appendingPathComponent("workers/default.yaml"))
        XCTAssertEqual(profile, WorkerProfile(models: ["minilm"], adapters: [], memoryMB: 2048, credits: 2, precision: .f32))
    }

    func testPrecision() throws {
        let bad = try write("models: [minilm]\nprecision: fp8\n")
        XCTAssertThrowsError(try WorkerProfile.load(bad)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(bad.path): not a valid worker profile"), "\(error)")
            XCTAssertTrue("\(error)".contains("precision (f32 or bf16)"), "\(error)")
        }
        let bf16 = try write("models: [minilm]\nprecision: bf16\n")
        if GemmBF16.isSupported {
            XCTAssertEqual(try WorkerProfile.load(bf16).precision, .bf16)
        } else {
            XCTAssertThrowsError(try WorkerProfile.load(bf16)) { error in
                XCTAssertTrue("\(error)".contains("needs AVX-512 BF16"), "\(error)")
            }
        }
    }
}
