import Foundation
import ImageIO
import TensorCore
import XCTest
@testable import Metrics

final class SimilarityScoreTests: XCTestCase {
    func testOneImageFolderAgainstItselfScoresOne() throws {
        let folder = try makeTemporaryFolder(for: self)
        try ImageEncoder.writePNG(syntheticImage(subject: 4, variant: 0, side: 32), to: folder.appendingPathComponent("only.png"))
        let contents = try ImageFolderContents.load(folder, resolution: 16, log: { _ in })

        for objective in FeatureObjective.allCases {
            let embeddings = FeatureNet(tinyConfiguration(objective), seed: 1).embeddings(of: contents.images)
            let score = PairwiseSimilarity(generated: embeddings, reference: embeddings)

            XCTAssertEqual(score.mean, 1, accuracy: 1e-5, "\(objective) score of an image against itself")
            XCTAssertEqual(score.generatedMeans.count, 1)
            XCTAssertEqual(score.generatedMeans[0], 1, accuracy: 1e-5)
        }
    }

    func testScoreIsSymmetricInAveraging() {
        var rng = SeededGenerator(seed: 11)
        let generated = rng.normalTensor([3, 8])
        let reference = rng.normalTensor([5, 8])

        let score = PairwiseSimilarity(generated: generated, reference: reference)
        let swapped = PairwiseSimilarity(generated: reference, reference: generated)
        let meanOfGeneratedMeans = score.generatedMeans.reduce(0, +) / 3
        let meanOfReferenceMeans = score.referenceMeans.reduce(0, +) / 5

        XCTAssertEqual(score.cosines.count, 15, "one cosine per (generated, reference) pair")
        XCTAssertEqual(meanOfGeneratedMeans, score.mean, accuracy: 1e-9, "averaging per generated image first")
        XCTAssertEqual(meanOfReferenceMeans, score.mean, accuracy: 1e-9, "averaging per reference image first")
        XCTAssertEqual(swapped.mean, score.mean, accuracy: 1e-6, "swapping the two sets")
        XCTAssertEqual(swapped.generatedMeans, score.referenceMeans.map { $0 }, "per-image means follow the swap")
    }

    func testCosinesMatchDirectComputation() {
        let generated = Tensor(shape: [2, 2], data: [1, 0, 3, 4])
        let reference = Tensor(shape: [1, 2], data: [0, 2])
        let score = PairwiseSimilarity(generated: generated, reference: reference)

        XCTAssertEqual(score.cosines[0], 0, accuracy: 1e-6)
        XCTAssertEqual(score.cosines[1], 0.8, accuracy: 1e-6)
        XCTAssertEqual(score.mean, 0.4, accuracy: 1e-6)
    }

    func testEmptyFolderIsAnError() throws {
        let folder = try makeTemporaryFolder(for: self)
        try Data("a caption".utf8).write(to: folder.appendingPathComponent("notes.txt"))

        let error = captureImageIOError { _ = try ImageFolderContents.load(folder, resolution: 16, log: { _ in }) }

        XCTAssertEqual(error?.kind, .emptyFolder)
        XCTAssertTrue(error?.description.contains(folder.path) ?? false, "the message names the folder")
    }

    func testAllInvalidFolderIsAnError() throws {
        let folder = try makeTemporaryFolder(for: self)
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("fake.jpg"))
        let png = try ImageEncoder.encodePNG(syntheticImage(subject: 1, variant: 0, side: 32))
        try Data(png.prefix(40)).write(to: folder.appendingPathComponent("truncated.png"))
        let lines = LineCollector()

        let error = captureImageIOError { _ = try ImageFolderContents.load(folder, resolution: 16, log: lines.log) }

        XCTAssertEqual(error?.kind, .noDecodableImages)
        XCTAssertTrue(error?.description.contains(folder.path) ?? false, "the message names the folder")
        XCTAssertTrue(lines.all.contains { $0.contains("fake.jpg") }, "the log names the file that is not an image")
        XCTAssertTrue(lines.all.contains { $0.contains("truncated.png") }, "the log names the file that failed to decode")
    }

    func testMissingFolderIsAnError() {
        let folder = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)")
        let error = captureImageIOError { _ = try ImageFolderContents.load(folder, resolution: 16, log: { _ in }) }
        XCTAssertEqual(error?.kind, .missingData)
    }

    func testInvalidFilesAreSkippedBesideGoodOnes() throws {
        let folder = try makeTemporaryFolder(for: self)
        try ImageEncoder.writePNG(syntheticImage(subject: 2, variant: 0, side: 32), to: folder.appendingPathComponent("good.png"))
        try Data("not an image".utf8).write(to: folder.appendingPathComponent("fake.jpg"))
        try Data().write(to: folder.appendingPathComponent(".DS_Store"))

        let contents = try ImageFolderContents.load(folder, resolution: 16, log: { _ in })

        XCTAssertEqual(contents.files.map(\.lastPathComponent), ["good.png"])
        XCTAssertEqual(contents.images.first?.width, 16)
    }
}

/// Collects log lines from code under test.
final class LineCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []

    var all: [String] {
        lock.lock()
        defer { lock.unlock() }
        return lines
    }

    var log: ImageIOLog {
        { [self] line in
            lock.lock()
            lines.append(line)
            lock.unlock()
        }
    }
}
