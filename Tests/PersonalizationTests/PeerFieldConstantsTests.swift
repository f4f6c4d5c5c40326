import Foundation
import XCTest
@testable import Personalization

/// The PyTorch copy of the field in `bench/peer/field.py` is only run by
/// `make bench-peer`, so a changed default here would go unnoticed until its
/// output check failed. This test reads its defaults and compares them.
final class PeerFieldConstantsTests: XCTestCase {
    private let source: String? = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try? String(contentsOf: root.appendingPathComponent("bench/peer/field.py"), encoding: .utf8)
    }()

    /// Returns the number after `prefix` at the start of a line (after indentation).
    private func value(_ prefix: String, in text: String) -> Double? {
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix(prefix) else { continue }
            let rest = trimmed.dropFirst(prefix.count).split(separator: "#")[0].trimmingCharacters(in: .whitespaces)
            return Double(rest)
        }
        return nil
    }

    func testPeerFieldDefaultsMatchSwift() throws {
        let text = try XCTUnwrap(source, "bench/peer/field.py is missing")
        let swift = FieldConfiguration(slots: [])
        XCTAssertEqual(value("learning_rate: float =", in: text), Double(swift.learningRate))
        XCTAssertEqual(value("total_steps: int =", in: text), Double(swift.totalSteps))
        XCTAssertEqual(value("rank: int =", in: text), Double(swift.rank))
        XCTAssertEqual(value("alpha: float =", in: text), Double(swift.alpha))
        XCTAssertEqual(value("width: int =", in: text), Double(swift.width))
        XCTAssertEqual(value("layers: int =", in: text), Double(swift.layers))
        XCTAssertEqual(value("heads: int =", in: text), Double(swift.heads))
        XCTAssertEqual(value("STATE_PHASE_RANGE =", in: text), HypernetworkField.statePhaseRange)
    }
}
