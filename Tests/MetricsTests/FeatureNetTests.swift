import Foundation
import ImageIO
import TensorCore
import TestSupport
import XCTest
@testable import Metrics

final class FeatureNetTests: XCTestCase {
    func testEmbeddingIsUnitNorm() {
        for objective in FeatureObjective.allCases {
            let net = FeatureNet(tinyConfiguration(objective), seed: 3)
            var rng = SeededGenerator(seed: 5)
            let images = rng.uniformTensor([6, 3, 16, 16], -1, 1)

            let embedding = GradMode.withoutGradients { net.embed(images) }

            XCTAssertEqual(embedding.shape, [6, net.configuration.embeddingWidth], "\(objective) embedding shape")
            for (row, norm) in rowNorms(embedding).enumerated() {
                XCTAssertEqual(norm, 1, accuracy: 1e-5, "\(objective) row \(row) norm")
            }
        }
    }

    func testEmbeddingsOfImagesAreUnitNorm() {
        let net = FeatureNet(tinyConfiguration(.contrastive), seed: 3)
        // One image at the input side and one that must be resized first.
        let images = [syntheticImage(subject: 1, variant: 0), syntheticImage(subject: 2, variant: 0, side: 24)]

        let embeddings = net.embeddings(of: images, batchSize: 1)

        XCTAssertEqual(embeddings.shape, [2, 16])
        for norm in rowNorms(embeddings) {
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
    }

    func testEmbeddingSourceSetsWidth() {
        var configuration = tinyConfiguration(.selfDistillation)
        XCTAssertEqual(configuration.embeddingWidth, 8, "whitened width is the kept components")
        configuration.embeddingSource = .backbone
        XCTAssertEqual(configuration.embeddingWidth, 16, "backbone width is the last stage's channels")
        configuration.embeddingSource = .head
        configuration.embeddingSize = 12
        XCTAssertEqual(configuration.embeddingWidth, 12, "head width is the embedding size")
    }

    func testInvalidConfigurationsAreReported() {
        var configuration = tinyConfiguration(.contrastive)
        configuration.normGroups = 3
        XCTAssertNotNil(configuration.validationError(), "groups that do not divide the channels")

        configuration = tinyConfiguration(.contrastive)
        configuration.prototypeCount = 8
        XCTAssertNotNil(configuration.validationError(), "prototypes on a contrastive net")

        configuration = tinyConfiguration(.selfDistillation)
        configuration.prototypeCount = 0
        XCTAssertNotNil(configuration.validationError(), "self-distillation without prototypes")

        configuration = tinyConfiguration(.selfDistillation)
        configuration.pooling = .spatial
        XCTAssertNotNil(configuration.validationError(), "spatial pooling with multi-crop views")

        configuration = tinyConfiguration(.contrastive)
        configuration.imageSize = 8
        configuration.stageChannels = [8, 8, 8, 8]
        XCTAssertNotNil(configuration.validationError(), "more stride-2 stages than the image allows")

        configuration = tinyConfiguration(.selfDistillation)
        configuration.whitening = nil
        XCTAssertNotNil(configuration.validationError(), "whitened embedding without a whitening")

        configuration = tinyConfiguration(.selfDistillation)
        configuration.whitening?.width = 257
        XCTAssertNotNil(configuration.validationError(), "more components than the 16x4x4 map has values")

        configuration = tinyConfiguration(.selfDistillation)
        configuration.whitening?.regularization = -1
        XCTAssertNotNil(configuration.validationError(), "negative regularization")

        XCTAssertNil(FeatureNetConfiguration.standard(.contrastive).validationError())
        XCTAssertNil(FeatureNetConfiguration.standard(.selfDistillation).validationError())
    }

    func testConfigurationWithoutWhiteningDecodesFromOlderFiles() throws {
        var configuration = FeatureNetConfiguration.standard(.selfDistillation)
        configuration.embeddingSource = .backbone
        configuration.whitening = nil
        let data = try JSONEncoder().encode(configuration)
        XCTAssertFalse(String(decoding: data, as: UTF8.self).contains("whitening"), "files without whitening keep their JSON")
        XCTAssertEqual(try JSONDecoder().decode(FeatureNetConfiguration.self, from: data), configuration)
    }

    func testConfigurationRoundTripsThroughJSON() throws {
        let configuration = FeatureNetConfiguration.standard(.selfDistillation)
        let data = try JSONEncoder().encode(configuration)
        XCTAssertEqual(try JSONDecoder().decode(FeatureNetConfiguration.self, from: data), configuration)
    }

    func testParameterNamesAreDotted() {
        let names = Set(FeatureNet(tinyConfiguration(.selfDistillation)).namedParameters().map(\.name))
        for expected in [
            "stages.0.down.weight", "stages.0.down_norm.weight", "stages.1.blocks.0.conv.weight",
            "stages.1.blocks.0.norm.bias", "head.hidden.weight", "head.output.bias", "prototypes.weight",
        ] {
            XCTAssertTrue(names.contains(expected), "missing parameter \(expected)")
        }
        let contrastive = FeatureNet(tinyConfiguration(.contrastive)).namedParameters()
        XCTAssertEqual(contrastive.first { $0.name == "pool.weight" }?.tensor.shape, [16, 4, 4], "spatial pooling weights")
    }

    func testSpatialPoolingStartsAsAverage() {
        let configuration = tinyConfiguration(.contrastive)
        var average = configuration
        average.pooling = .average
        let spatialNet = FeatureNet(configuration, seed: 4)
        let averageNet = FeatureNet(average, seed: 4)
        var rng = SeededGenerator(seed: 2)
        let images = rng.uniformTensor([2, 3, 16, 16], -1, 1)

        let spatial = GradMode.withoutGradients { spatialNet.backboneFeatures(images) }
        let averaged = GradMode.withoutGradients { averageNet.backboneFeatures(images) }

        XCTAssertEqual(spatial.shape, [2, 16])
        for (index, value) in spatial.data.enumerated() {
            XCTAssertEqual(value, averaged.data[index], accuracy: 1e-5, "feature \(index)")
        }
    }

    func testLogSoftmaxMatchesDefinition() {
        let logits = Tensor(shape: [2, 3], data: [1, 2, 3, -50, 0, 50])
        let result = logSoftmax(logits).data
        for row in 0..<2 {
            let values = logits.data[(row * 3)..<(row * 3 + 3)].map(Double.init)
            let logSum = Foundation.log(values.map { Foundation.exp($0 - values.max()!) }.reduce(0, +)) + values.max()!
            for column in 0..<3 {
                XCTAssertEqual(Double(result[row * 3 + column]), values[column] - logSum, accuracy: 1e-4)
            }
        }
    }

    func testLogSoftmaxGradient() {
        var rng = SeededGenerator(seed: 8)
        assertGradientsMatch("logSoftmax", [rng.normalTensor([3, 5])]) { inputs in
            logSoftmax(inputs[0])
        }
    }
}
