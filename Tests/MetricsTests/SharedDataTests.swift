import Foundation
import ImageIO
import XCTest
@testable import Metrics

/// Tests against the real photographs. They skip when the data folder is
/// absent; set HYPERFIELD_DATA to point them at another copy.
final class SharedDataTests: XCTestCase {
    private func catalog() throws -> SharedDataCatalog {
        let catalog = SharedDataCatalog(root: SharedDataCatalog.defaultRoot(repositoryRoot: repositoryRoot), log: { _ in })
        guard catalog.isAvailable(.lfw),
              FileManager.default.fileExists(atPath: catalog.root.appendingPathComponent("lfw/pairs.txt").path)
        else {
            throw XCTSkip(
                "shared data not found: lfw/faces_160 and lfw/pairs.txt under \(catalog.root.path); "
                    + "set \(SharedDataCatalog.environmentVariable) to the data folder to run this test")
        }
        return catalog
    }

    func testLFWPairsOfHeldOutPeopleStayHeldOut() throws {
        let catalog = try catalog()
        let heldOut = try catalog.subjects(of: .lfw, split: .heldOut)
        let people = try SubjectDataset.load(heldOut, preparation: ImagePreparation(resolution: 16), log: { _ in })
        let text = try String(contentsOf: catalog.root.appendingPathComponent("lfw/pairs.txt"), encoding: .utf8)
        let names = try catalog.heldOutIdentities(of: .lfw)

        let pairs = VerificationPairs.fromLFW(LFWPairEntry.parse(text), in: people)

        XCTAssertFalse(pairs.isEmpty, "pairs.txt has same-person pairs of held-out people")
        for pair in pairs {
            let first = people.subjects[pair.first.subject], second = people.subjects[pair.second.subject]
            XCTAssertTrue(names.contains(first.id.replacingOccurrences(of: "lfw/", with: "")), "\(first.id) is held out")
            XCTAssertTrue(names.contains(second.id.replacingOccurrences(of: "lfw/", with: "")), "\(second.id) is held out")
            XCTAssertNotEqual(pair.first, pair.second, "a pair uses two images")
        }
    }
}
