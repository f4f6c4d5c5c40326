import Foundation
import TestSupport
import XCTest
@testable import Diffusion
@testable import TensorCore

final class SamplerStartTests: XCTestCase {
    private func sampler() -> DDIMSampler {
        let denoiser = Denoiser(tinyDenoiserConfiguration())
        randomizeZeroWeights(denoiser, seed: 21)
        var settings = SamplerSettings()
        settings.steps = 10
        settings.guidanceScale = 1
        return DDIMSampler(denoiser: denoiser, schedule: NoiseSchedule(), settings: settings)
    }

    private func distance(_ x: Tensor, _ y: Tensor) -> Float {
        zip(x.data, y.data).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
    }

    func testLowerStrengthStaysCloser() {
        let sampler = sampler()
        let conditions = [Condition(classIndex: 0), Condition(classIndex: 0)]
        let start = randomTensor([2, 2, 8, 8], seed: 22)
        var rng = SeededGenerator(seed: 23)
        let weak = sampler.sample(conditions: conditions, start: (start, 0.15), rng: &rng)
        rng = SeededGenerator(seed: 23)
        let strong = sampler.sample(conditions: conditions, start: (start, 0.9), rng: &rng)
        XCTAssertNotEqual(weak.data, start.data, "a strength above one step changes the latents")
        XCTAssertLessThan(distance(weak, start), distance(strong, start))
    }

    func testZeroStrengthReturnsTheStart() {
        let start = randomTensor([1, 2, 8, 8], seed: 24)
        var rng = SeededGenerator(seed: 25)
        let result = sampler().sample(conditions: [Condition(classIndex: 1)], start: (start, 0), rng: &rng)
        XCTAssertEqual(result.data, start.data)
    }

    func testScaledAdapterMultipliesTheUpdate() {
        let denoiser = Denoiser(tinyDenoiserConfiguration())
        randomizeZeroWeights(denoiser, seed: 26)
        var rng = SeededGenerator(seed: 27)
        var adapter = Adapter.initial(for: denoiser.slots, rank: 2, alpha: 2, rng: &rng)
        for name in adapter.slotNames {
            adapter.slots[name]!.b = rng.normalTensor(adapter.slots[name]!.b.shape, scale: 0.1)
        }
        let z = randomTensor([1, 2, 8, 8], seed: 28)
        let conditions = [Condition(classIndex: 0)]
        let plain = denoiser(z, timesteps: [300], conditions: conditions)
        let zero = denoiser(z, timesteps: [300], conditions: conditions, adapter: adapter.scaled(by: 0))
        XCTAssertEqual(zero.data, plain.data)
        let full = denoiser(z, timesteps: [300], conditions: conditions, adapter: adapter)
        let double = denoiser(z, timesteps: [300], conditions: conditions, adapter: adapter.scaled(by: 2))
        XCTAssertGreaterThan(distance(double, plain), 1.5 * distance(full, plain))
    }
}
