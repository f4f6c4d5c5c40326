import Foundation
import TestSupport
import XCTest
@testable import Diffusion
@testable import TensorCore

/// Returns a denoiser configuration small enough for finite differences:
/// 2×8×8 latents, two levels.
func tinyDenoiserConfiguration() -> DenoiserConfiguration {
    var configuration = DenoiserConfiguration()
    configuration.latentChannels = 2
    configuration.latentSize = 8
    configuration.channels = [8, 16]
    configuration.attentionLevels = [1]
    configuration.heads = 2
    configuration.groups = 4
    configuration.contextWidth = 8
    return configuration
}

/// Gives every zero-initialized output layer small random weights, so that
/// gradients reach every parameter in a test.
func randomizeZeroWeights(_ module: Module, seed: UInt64) {
    var rng = SeededGenerator(seed: seed)
    for (_, tensor) in module.namedParameters() where tensor.data.allSatisfy({ $0 == 0 }) {
        tensor.data = (0..<tensor.count).map { _ in rng.normal() * 0.1 }
    }
}

final class DenoiserTests: XCTestCase {
    private let conditions = [Condition(classIndex: 0), Condition(classIndex: 2, hasIdentifier: false)]
    private let timesteps = [10, 700]

    func testOutputShapeAndSlots() {
        let denoiser = Denoiser(tinyDenoiserConfiguration())
        let z = randomTensor([2, 2, 8, 8], seed: 1)
        let y = denoiser(z, timesteps: timesteps, conditions: conditions)
        XCTAssertEqual(y.shape, [2, 2, 8, 8])
        // Attention at level 1 (down, 2 in the up path) and in the middle: 4
        // transformer blocks, each with 2 attention layers of 4 projections.
        XCTAssertEqual(denoiser.slots.count, 32)
        let crossKey = denoiser.slots.first { $0.name == "down.1.attn.0.attn2.to_k" }
        XCTAssertEqual(crossKey?.inFeatures, 8)
        XCTAssertEqual(crossKey?.outFeatures, 16)
        let parameterNames = Set(denoiser.namedParameters().map { $0.name })
        for slot in denoiser.slots {
            XCTAssertTrue(parameterNames.contains(slot.name + ".weight"), "slot \(slot.name) has no weight parameter")
        }
    }

    func testConvolutionSlotsWhenEnabled() {
        var configuration = tinyDenoiserConfiguration()
        configuration.convolutionSlots = true
        let denoiser = Denoiser(configuration)
        randomizeZeroWeights(denoiser, seed: 1)
        let convolution = denoiser.slots.first { $0.name == "mid.res.0.conv1" }
        XCTAssertEqual(convolution?.kind, .conv)
        XCTAssertEqual(convolution?.kernel, 3)
        var rng = SeededGenerator(seed: 2)
        let adapter = Adapter.initial(for: denoiser.slots, rank: 2, alpha: 2, rng: &rng)
        for weights in adapter.slots.values { weights.b.data = weights.b.data.map { _ in 0.05 } }
        let z = randomTensor([2, 2, 8, 8], seed: 3)
        let plain = denoiser(z, timesteps: timesteps, conditions: conditions)
        let adapted = denoiser(z, timesteps: timesteps, conditions: conditions, adapter: adapter)
        XCTAssertNotEqual(plain.data, adapted.data)
    }

    func testZeroBEqualsNoAdapter() {
        let denoiser = Denoiser(tinyDenoiserConfiguration())
        randomizeZeroWeights(denoiser, seed: 4)
        var rng = SeededGenerator(seed: 5)
        let adapter = Adapter.initial(for: denoiser.slots, rank: 4, alpha: 4, rng: &rng)
        let z = randomTensor([2, 2, 8, 8], seed: 6)
        let plain = denoiser(z, timesteps: timesteps, conditions: conditions)
        let adapted = denoiser(z, timesteps: timesteps, conditions: conditions, adapter: adapter)
        XCTAssertEqual(plain.data, adapted.data)
    }

    func testAdapterChangesOutput() {
        let denoiser = Denoiser(tinyDenoiserConfiguration())
        randomizeZeroWeights(denoiser, seed: 7)
        var rng = SeededGenerator(seed: 8)
        var adapter = Adapter.initial(for: denoiser.slots, rank: 4, alpha: 4, rng: &rng)
        let name = "mid.attn.0.attn2.to_v"
        adapter.slots[name]!.b = rng.normalTensor(adapter.slots[name]!.b.shape, scale: 0.1)
        let z = randomTensor([2, 2, 8, 8], seed: 9)
        let plain = denoiser(z, timesteps: timesteps, conditions: conditions)
        let adapted = denoiser(z, timesteps: timesteps, conditions: conditions, adapter: adapter)
        let difference = zip(plain.data, adapted.data).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(difference, 1e-4)
    }

    // Whole-model checks run some forty Float32 ops deep: with a 5e-3 step the
    // finite differences themselves scattered by about 1e-3 on gradients of
    // about 0.02, so these use a 3e-2 step and a 3e-2 relative tolerance. The
    // ops are checked one by one at 1e-2 in TensorCoreTests. Here the check
    // is the wiring, where a missing or detached path is off by 100%.
    func testGradientWithRespectToAdapterMatchesFiniteDifferences() {
        let denoiser = Denoiser(tinyDenoiserConfiguration())
        randomizeZeroWeights(denoiser, seed: 10)
        denoiser.setTrainable(false)
        var rng = SeededGenerator(seed: 11)
        let adapter = Adapter.initial(for: denoiser.slots, rank: 2, alpha: 2, rng: &rng)
        for weights in adapter.slots.values { weights.b.data = weights.b.data.map { _ in rng.normal() * 0.1 } }
        let z = randomTensor([2, 2, 8, 8], seed: 12)
        let checked = ["mid.attn.0.attn2.to_k", "down.1.attn.0.attn1.to_q", "up.0.attn.1.attn1.to_out"]
        var inputs: [Tensor] = []
        for name in checked { inputs += [adapter.slots[name]!.a, adapter.slots[name]!.b] }
        assertGradientsMatch("denoiser w.r.t. adapter", inputs, step: 3e-2, tolerance: 3e-2, maxProbes: 12) { _ in
            denoiser(z, timesteps: self.timesteps, conditions: self.conditions, adapter: adapter)
        }
    }

    func testGradientWithRespectToParametersAndInput() {
        let denoiser = Denoiser(tinyDenoiserConfiguration())
        randomizeZeroWeights(denoiser, seed: 13)
        let parameters = denoiser.namedParameters()
        let picked = ["conv_in.weight", "down.0.res.0.norm1.weight", "down.1.attn.0.attn1.to_q.weight",
                      "mid.res.1.time_emb_proj.weight", "up.1.res.1.conv2.bias", "class_tokens.weight", "conv_out.weight"]
        let tensors = picked.map { name in parameters.first { $0.name == name }!.tensor }
        let z = randomTensor([2, 2, 8, 8], seed: 14)
        assertGradientsMatch("denoiser w.r.t. parameters and input", tensors + [z], step: 3e-2, tolerance: 3e-2, maxProbes: 10) { inputs in
            denoiser(inputs.last!, timesteps: self.timesteps, conditions: self.conditions)
        }
    }

    func testSaveAndLoadGiveSameOutput() throws {
        let denoiser = Denoiser(tinyDenoiserConfiguration(), seed: 15)
        randomizeZeroWeights(denoiser, seed: 16)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hyperfield-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("denoiser.safetensors")
        try ModelFile.save(denoiser, configuration: denoiser.configuration, kind: "denoiser", metadata: ["step": "3"], to: url)
        let (loaded, metadata) = try ModelFile.loadDenoiser(from: url)
        XCTAssertEqual(loaded.configuration, denoiser.configuration)
        XCTAssertEqual(metadata["step"], "3")
        let z = randomTensor([2, 2, 8, 8], seed: 17)
        XCTAssertEqual(
            loaded(z, timesteps: timesteps, conditions: conditions).data,
            denoiser(z, timesteps: timesteps, conditions: conditions).data)
    }

    func testLoadingWrongKindFails() throws {
        let autoencoder = Autoencoder(AutoencoderConfiguration())
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hyperfield-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("ae.safetensors")
        try ModelFile.save(autoencoder, configuration: autoencoder.configuration, kind: "autoencoder", to: url)
        XCTAssertThrowsError(try ModelFile.loadDenoiser(from: url)) { error in
            XCTAssertTrue("\(error)".contains("hyperfield.autoencoder"), "\(error)")
        }
    }
}
