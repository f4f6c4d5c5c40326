import Foundation
import ImageIO
import Metrics
import TensorCore
import XCTest

/// The repository root, three levels above this file.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Returns a feature net configuration small enough to train in a test: two stages of 8 and 16
/// channels on 16x16 images, and for self-distillation a whitening to 8 components.
func tinyConfiguration(_ objective: FeatureObjective) -> FeatureNetConfiguration {
    var configuration = FeatureNetConfiguration.standard(objective)
    configuration.imageSize = 16
    configuration.stageChannels = [8, 16]
    configuration.normGroups = 4
    configuration.headHiddenSize = 32
    configuration.embeddingSize = 16
    if objective == .selfDistillation {
        configuration.prototypeCount = 32
        configuration.whitening = FeatureWhiteningConfiguration(width: 8)
    }
    return configuration
}

/// Draws a 16x16 image of one subject: a colour and a stripe direction fixed by
/// `subject`, plus pixel noise that differs per `variant`.
func syntheticImage(subject: Int, variant: Int, side: Int = 16) -> RGBImage {
    var rng = SeededGenerator(seed: UInt64(subject * 1000 + variant))
    let base = [UInt8((subject * 67) % 256), UInt8((subject * 131 + 80) % 256), UInt8((subject * 29 + 160) % 256)]
    var pixels = [UInt8](repeating: 0, count: side * side * 3)
    for y in 0..<side {
        for x in 0..<side {
            let stripe = (subject % 2 == 0 ? x : y) / 2 % 2 == 0
            for channel in 0..<3 {
                let value = Float(base[channel]) * (stripe ? 1 : 0.4) + rng.normal() * 12
                pixels[(y * side + x) * 3 + channel] = UInt8(min(max(value, 0), 255))
            }
        }
    }
    return RGBImage(width: side, height: side, pixels: pixels)
}

/// Builds a dataset of `subjects` face subjects with `imagesPerSubject` images each.
func syntheticDataset(subjects: Int, imagesPerSubject: Int) -> SubjectDataset {
    let members = (0..<subjects).map { subject in
        SubjectDataset.Subject(
            id: "synthetic/\(subject)", classLabel: .face,
            images: (0..<imagesPerSubject).map { syntheticImage(subject: subject, variant: $0) },
            files: (0..<imagesPerSubject).map { URL(fileURLWithPath: "/synthetic/\(subject)/\($0).png") })
    }
    return SubjectDataset(resolution: 16, subjects: members, manifest: DatasetManifest(entries: []))
}

/// Creates a fresh temporary folder and removes it when the test ends.
func makeTemporaryFolder(for testCase: XCTestCase) throws -> URL {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("hyperfield-metrics-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    testCase.addTeardownBlock {
        try? FileManager.default.removeItem(at: folder)
    }
    return folder
}

/// Runs `body` and returns the `ImageIOError` it throws, or nil (with a
/// test failure) when it throws nothing or another error.
func captureImageIOError(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> ImageIOError? {
    do {
        try body()
        XCTFail("expected an ImageIOError, but nothing was thrown", file: file, line: line)
    } catch let error as ImageIOError {
        return error
    } catch {
        XCTFail("expected an ImageIOError, got \(error)", file: file, line: line)
    }
    return nil
}

/// L2 norm of each row of a `[N, D]` tensor.
func rowNorms(_ tensor: Tensor) -> [Float] {
    let width = tensor.shape[1]
    return (0..<tensor.shape[0]).map { row in
        tensor.data[(row * width)..<((row + 1) * width)].reduce(0) { $0 + $1 * $1 }.squareRoot()
    }
}
