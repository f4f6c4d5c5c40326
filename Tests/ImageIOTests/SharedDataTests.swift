import Foundation
import ImageIO
import XCTest

/// Tests against the real photographs. They skip when the data folder is
/// absent; set HYPERFIELD_DATA to point them at another copy.
final class SharedDataTests: XCTestCase {
    private var catalog: SharedDataCatalog!
    private var recorder: LogRecorder!

    override func setUpWithError() throws {
        recorder = LogRecorder()
        let root = SharedDataCatalog.defaultRoot(repositoryRoot: repositoryRoot)
        catalog = SharedDataCatalog(root: root, log: recorder.log)
    }

    private func requireSources(_ sources: [SharedDataSource]) throws {
        let missing = sources.filter { !catalog.isAvailable($0) }
        if !missing.isEmpty {
            throw XCTSkip(
                "shared data not found: \(missing.map(\.imageFolder).joined(separator: ", ")) under \(catalog.root.path); "
                    + "set \(SharedDataCatalog.environmentVariable) to the data folder to run this test")
        }
    }

    func testDefaultRootIsBesideRepository() {
        let root = SharedDataCatalog.defaultRoot(repositoryRoot: URL(fileURLWithPath: "/work/repo"), environment: [:])
        XCTAssertEqual(root.path, "/work/shared/data")
    }

    func testEnvironmentOverridesRoot() {
        let root = SharedDataCatalog.defaultRoot(
            repositoryRoot: URL(fileURLWithPath: "/work/repo"), environment: ["HYPERFIELD_DATA": "/data/photos"])
        XCTAssertEqual(root.path, "/data/photos")
    }

    func testMissingSourceIsAnError() throws {
        let empty = try makeTemporaryFolder(for: self)
        let error = captureImageIOError { _ = try SharedDataCatalog(root: empty).subjects(of: .lfw, split: .all) }
        XCTAssertEqual(error?.kind, .missingData)
        XCTAssertTrue(error?.description.contains("HYPERFIELD_DATA") ?? false, "the fix must name the variable")
    }

    func testHeldOutIdentitiesNeverReachTraining() throws {
        try requireSources([.lfw, .dogFaceNet])
        for source in [SharedDataSource.lfw, .dogFaceNet] {
            let heldOutNames = try catalog.heldOutIdentities(of: source)
            let training = try catalog.subjects(of: source, split: .training)
            let heldOut = try catalog.subjects(of: source, split: .heldOut)
            let all = try catalog.subjects(of: source, split: .all)

            XCTAssertFalse(heldOutNames.isEmpty, "\(source) must have a held-out list")
            XCTAssertTrue(training.allSatisfy { !heldOutNames.contains($0.name) }, "\(source) training has a held-out identity")
            XCTAssertEqual(Set(heldOut.map(\.name)), heldOutNames, "\(source) held-out subjects match the list")
            XCTAssertEqual(training.count + heldOut.count, all.count, "\(source) splits cover every subject")
        }
        let combined = try catalog.trainingSubjects()
        let heldOutIDs = Set(try catalog.heldOutSubjects().map(\.id))
        XCTAssertTrue(combined.allSatisfy { !heldOutIDs.contains($0.id) }, "combined training has a held-out subject")
    }

    func testSourcesHaveClassLabels() throws {
        try requireSources(SharedDataSource.allCases)
        XCTAssertEqual(try catalog.subjects(of: .lfw, split: .training).first?.classLabel, .face)
        XCTAssertEqual(try catalog.subjects(of: .orl, split: .all).first?.classLabel, .face)
        XCTAssertEqual(try catalog.subjects(of: .dogFaceNet, split: .training).first?.classLabel, .dog)
        let cats = try catalog.subjects(of: .catFaces, split: .all)
        XCTAssertEqual(cats.first?.classLabel, .cat)
        XCTAssertTrue(cats.allSatisfy { $0.files.count == 1 }, "cat faces have no identities: one image per subject")
        XCTAssertEqual(try catalog.subjects(of: .orl, split: .all).first?.id, "orl/s1")
    }

    /// Decodes and prepares every image of every source and checks that none
    /// failed. Counts go to the test log, for example:
    /// `lfw: 13233 images, 5749 subjects, 0 failed`.
    func testEveryImageLoads() throws {
        try requireSources(SharedDataSource.allCases)
        let start = Date()
        var report: [String] = []
        for source in SharedDataSource.allCases {
            let subjects = try catalog.subjects(of: source, split: .all)
            let listed = subjects.reduce(0) { $0 + $1.files.count }
            let onDisk = countImageFiles(under: catalog.root.appendingPathComponent(source.imageFolder))
            let dataset = try SubjectDataset.load(subjects, preparation: ImagePreparation(resolution: 64), log: recorder.log)

            XCTAssertEqual(listed, onDisk, "\(source): every .jpg and .png file must be listed")
            XCTAssertEqual(dataset.imageCount, listed, "\(source): every listed image must decode")
            XCTAssertEqual(dataset.subjects.count, subjects.count, "\(source): every subject must keep an image")
            XCTAssertEqual(dataset.manifest.entries.count, listed, "\(source): the manifest must list every image")
            report.append("\(source.rawValue): \(dataset.imageCount) images, \(subjects.count) subjects, \(listed - dataset.imageCount) failed")
        }
        XCTAssertEqual(recorder.lines.filter { $0.hasPrefix("skipped") }, [], "no file may be skipped")
        print("shared data load (\(String(format: "%.1f", Date().timeIntervalSince(start))) s): " + report.joined(separator: "; "))
    }

    /// Counts .jpg and .png files below `folder` with a plain directory walk,
    /// independent of the listing code under test.
    private func countImageFiles(under folder: URL) -> Int {
        let enumerator = FileManager.default.enumerator(atPath: folder.path)
        var count = 0
        while let path = enumerator?.nextObject() as? String {
            let lowered = path.lowercased()
            if lowered.hasSuffix(".jpg") || lowered.hasSuffix(".png") { count += 1 }
        }
        return count
    }
}
