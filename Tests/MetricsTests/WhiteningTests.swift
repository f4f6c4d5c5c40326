import Foundation
import ImageIO
import TensorCore
import XCTest
@testable import Metrics

final class WhiteningTests: XCTestCase {
    /// Images of 12 synthetic subjects, 6 variants each.
    private func images() -> [RGBImage] {
        (0..<12).flatMap { subject in (0..<6).map { syntheticImage(subject: subject, variant: $0) } }
    }

    /// Returns the flattened last maps of `images`, `[N, F]`, as rows of doubles.
    private func maps(_ net: FeatureNet, _ images: [RGBImage]) -> [[Double]] {
        let map = GradMode.withoutGradients { net.lastFeatureMap(batchTensor(images)) }
        let width = net.configuration.finalMapValues
        return (0..<images.count).map { row in map.data[(row * width)..<((row + 1) * width)].map(Double.init) }
    }

    func testFittedImagesGetUnitCovariance() throws {
        var configuration = tinyConfiguration(.selfDistillation)
        configuration.whitening = FeatureWhiteningConfiguration(width: 6, regularization: 0)
        let net = FeatureNet(configuration, seed: 4)
        let images = images()

        let fit = try net.fitWhitening(to: images, batchSize: 16)
        let whitened = GradMode.withoutGradients { net.whitenedFeatures(batchTensor(images)) }

        XCTAssertEqual(fit.imageCount, 72)
        XCTAssertEqual(fit.inputWidth, 256)
        XCTAssertGreaterThan(fit.keptVariance, 0)
        XCTAssertLessThanOrEqual(fit.keptVariance, 1 + 1e-9)
        XCTAssertGreaterThanOrEqual(fit.largestEigenvalue, fit.smallestKeptEigenvalue)
        XCTAssertEqual(whitened.shape, [72, 6])
        // Zero mean and identity covariance over the images it was fitted to.
        for i in 0..<6 {
            let mean = (0..<72).reduce(0.0) { $0 + Double(whitened.data[$1 * 6 + i]) } / 72
            XCTAssertEqual(mean, 0, accuracy: 1e-3, "mean of component \(i)")
            for j in 0..<6 {
                let covariance = (0..<72).reduce(0.0) {
                    $0 + Double(whitened.data[$1 * 6 + i]) * Double(whitened.data[$1 * 6 + j])
                } / 72
                XCTAssertEqual(covariance, i == j ? 1 : 0, accuracy: 2e-2, "covariance (\(i), \(j))")
            }
        }
    }

    func testFirstComponentHasLargestVariance() throws {
        var configuration = tinyConfiguration(.selfDistillation)
        configuration.whitening = FeatureWhiteningConfiguration(width: 1, regularization: 0)
        let net = FeatureNet(configuration, seed: 6)
        let images = images()
        let rows = maps(net, images)

        let fit = try net.fitWhitening(to: images)

        // The weight row, rescaled to unit length, is the leading principal
        // direction: no other tested direction has more variance.
        let weight = net.whitening!.weight.data.map(Double.init)
        let length = weight.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let direction = weight.map { $0 / length }
        func variance(along direction: [Double]) -> Double {
            let projections = rows.map { row in zip(row, direction).reduce(0) { $0 + $1.0 * $1.1 } }
            let mean = projections.reduce(0, +) / Double(projections.count)
            return projections.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(projections.count)
        }
        let leading = variance(along: direction)
        XCTAssertEqual(leading, fit.largestEigenvalue, accuracy: 1e-3 * fit.largestEigenvalue)
        var rng = SeededGenerator(seed: 9)
        for trial in 0..<20 {
            let other = (0..<direction.count).map { _ in Double(rng.normal()) }
            let norm = other.reduce(0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertLessThanOrEqual(variance(along: other.map { $0 / norm }), leading * (1 + 1e-4), "random direction \(trial)")
        }
    }

    func testWhitenedEmbeddingIsUnitNorm() throws {
        let net = FeatureNet(tinyConfiguration(.selfDistillation), seed: 2)
        try net.fitWhitening(to: images())

        let embeddings = net.embeddings(of: [syntheticImage(subject: 20, variant: 0), syntheticImage(subject: 21, variant: 3)])

        XCTAssertEqual(embeddings.shape, [2, 8])
        for norm in rowNorms(embeddings) {
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
    }

    func testTooFewImagesIsAnError() {
        let net = FeatureNet(tinyConfiguration(.selfDistillation), seed: 2)
        XCTAssertThrowsError(try net.fitWhitening(to: Array(images().prefix(10)))) { error in
            XCTAssertTrue("\(error)".contains("at least 16 images"), "\(error)")
        }
    }

    func testWhiteningIsNotTrainable() {
        let net = FeatureNet(tinyConfiguration(.selfDistillation), seed: 2)
        let trainable = net.trainableParameters().map(\.name)
        XCTAssertFalse(trainable.contains { $0.hasPrefix("whitening.") }, "\(trainable)")
        XCTAssertTrue(net.namedParameters().contains { $0.name == "whitening.weight" }, "saved with the weights")
    }
}
