import ImageIO
import TensorCore
import XCTest
@testable import Metrics

final class AugmentationTests: XCTestCase {
    func testViewHasSizeAndRange() {
        let augmentation = ViewAugmentation(outputSize: 12, cropScale: 0.2...1)
        var rng = SeededGenerator(seed: 3)
        for _ in 0..<20 {
            let view = augmentation.view(of: syntheticImage(subject: 3, variant: 0, side: 20), rng: &rng)
            XCTAssertEqual(view.count, 3 * 12 * 12)
            XCTAssertGreaterThanOrEqual(view.min() ?? 0, -1)
            XCTAssertLessThanOrEqual(view.max() ?? 0, 1)
        }
    }

    func testSeedFixesViews() {
        let augmentation = ViewAugmentation(outputSize: 16, cropScale: 0.3...1)
        let images = [syntheticImage(subject: 1, variant: 0), syntheticImage(subject: 2, variant: 0)]
        var first = SeededGenerator(seed: 7)
        var second = SeededGenerator(seed: 7)
        XCTAssertEqual(augmentation.views(of: images, rng: &first).data, augmentation.views(of: images, rng: &second).data)
    }

    func testPlainViewOfWholeImageIsTheImage() {
        var augmentation = ViewAugmentation(outputSize: 16, cropScale: 1...1)
        augmentation.cropAspectRatio = 1...1
        augmentation.flipProbability = 0
        augmentation.jitterProbability = 0
        augmentation.grayscaleProbability = 0
        augmentation.blurProbability = 0
        let image = syntheticImage(subject: 5, variant: 1)
        var rng = SeededGenerator(seed: 1)

        let view = augmentation.view(of: image, rng: &rng)

        let expected = image.tensor().data
        for (index, value) in view.enumerated() {
            XCTAssertEqual(value, expected[index], accuracy: 1e-5, "value \(index)")
        }
    }

    func testGrayscaleViewHasEqualChannels() {
        var augmentation = ViewAugmentation(outputSize: 8, cropScale: 0.5...1)
        augmentation.grayscaleProbability = 1
        augmentation.jitterProbability = 0
        var rng = SeededGenerator(seed: 2)

        let view = augmentation.view(of: syntheticImage(subject: 7, variant: 0), rng: &rng)

        for index in 0..<64 {
            XCTAssertEqual(view[index], view[64 + index], accuracy: 1e-6)
            XCTAssertEqual(view[index], view[128 + index], accuracy: 1e-6)
        }
    }

    func testBlurKeepsConstantImage() {
        let augmentation = ViewAugmentation(outputSize: 8, cropScale: 1...1)
        var planes = [Float](repeating: 0.25, count: 3 * 64)
        augmentation.gaussianBlur(&planes, sigma: 1)
        XCTAssertTrue(planes.allSatisfy { abs($0 - 0.25) < 1e-6 }, "the kernel sums to 1")
    }

    func testFlipMirrorsView() {
        var augmentation = ViewAugmentation(outputSize: 16, cropScale: 1...1)
        augmentation.cropAspectRatio = 1...1
        let image = syntheticImage(subject: 6, variant: 0)
        var rng = SeededGenerator(seed: 4)
        let crop = augmentation.randomCrop(width: 16, height: 16, rng: &rng)

        let plain = augmentation.resample(image, crop: crop, flips: false)
        let mirrored = augmentation.resample(image, crop: crop, flips: true)

        for y in 0..<16 {
            for x in 0..<16 {
                XCTAssertEqual(mirrored[y * 16 + x], plain[y * 16 + 15 - x])
            }
        }
    }
}
