import Foundation
import TestSupport
import XCTest
@testable import Diffusion
@testable import Personalization
@testable import TensorCore

/// Builds a denoiser small enough to train a field in a test: 2×8×8 latents.
func tinyDenoiser(seed: UInt64 = 3) -> Denoiser {
    var configuration = DenoiserConfiguration()
    configuration.latentChannels = 2
    configuration.latentSize = 8
    configuration.channels = [8, 16]
    configuration.attentionLevels = [1]
    configuration.heads = 2
    configuration.groups = 4
    configuration.contextWidth = 8
    let denoiser = Denoiser(configuration, seed: seed)
    // Random output layers, so the adapter reaches the output.
    var rng = SeededGenerator(seed: seed + 1)
    for (_, tensor) in denoiser.namedParameters() where tensor.data.allSatisfy({ $0 == 0 }) {
        tensor.data = (0..<tensor.count).map { _ in rng.normal() * 0.1 }
    }
    denoiser.setTrainable(false)
    return denoiser
}

func tinyFieldConfiguration(_ denoiser: Denoiser) -> FieldConfiguration {
    var configuration = FieldConfiguration(slots: denoiser.slots)
    configuration.rank = 2
    configuration.alpha = 2
    configuration.totalSteps = 20
    configuration.learningRate = 0.5
    configuration.latentChannels = 2
    configuration.latentSize = 8
    configuration.encoderChannels = [8, 16, 16]
    configuration.width = 16
    configuration.layers = 1
    configuration.heads = 2
    return configuration
}

/// Makes a subject of `count` latents around a subject-specific pattern.
func tinySubject(_ index: Int, count: Int = 3) -> SubjectLatents {
    var rng = SeededGenerator(seed: 100 + UInt64(index))
    let pattern = (0..<(2 * 8 * 8)).map { _ in rng.normal() }
    var values: [Float] = []
    for _ in 0..<count { values += pattern.map { $0 + rng.normal() * 0.2 } }
    return SubjectLatents(id: "subject-\(index)", latents: Tensor(shape: [count, 2, 8, 8], data: values), classIndex: index % 2)
}

/// Gives the field's zero heads random weights, so that `Δ` is not zero.
func randomizeHeads(_ field: HypernetworkField, seed: UInt64) {
    var rng = SeededGenerator(seed: seed)
    for (name, tensor) in field.namedParameters() where name.hasPrefix("heads.") {
        tensor.data = (0..<tensor.count).map { _ in rng.normal() * 0.05 }
    }
}

final class FieldTests: XCTestCase {
    func testStateZeroIsInitialAdapterExactly() {
        let denoiser = tinyDenoiser()
        let field = HypernetworkField(tinyFieldConfiguration(denoiser), seed: 1)
        randomizeHeads(field, seed: 2)
        let adapter = field(tinySubject(0).latents, state: 0)
        let initial = field.initialAdapter
        XCTAssertEqual(adapter.slotNames, initial.slotNames)
        for name in initial.slotNames {
            XCTAssertEqual(adapter.slots[name]!.a.data.map { $0.bitPattern }, initial.slots[name]!.a.data.map { $0.bitPattern })
            XCTAssertEqual(adapter.slots[name]!.b.data.map { $0.bitPattern }, initial.slots[name]!.b.data.map { $0.bitPattern })
        }
        // Any other state moves away from θ_0.
        let later = field(tinySubject(0).latents, state: 5)
        XCTAssertNotEqual(AdapterMath.flatten(later), AdapterMath.flatten(initial))
    }

    func testInitialAdapterHasZeroB() {
        let field = HypernetworkField(tinyFieldConfiguration(tinyDenoiser()), seed: 1)
        for weights in field.initialAdapter.slots.values {
            XCTAssertTrue(weights.b.data.allSatisfy { $0 == 0 })
            XCTAssertTrue(weights.a.data.contains { $0 != 0 })
        }
    }

    func testImageOrderDoesNotChangeAdapter() {
        let field = HypernetworkField(tinyFieldConfiguration(tinyDenoiser()), seed: 1)
        randomizeHeads(field, seed: 3)
        let subject = tinySubject(1, count: 4)
        let forward = field(subject.images([0, 1, 2, 3]), state: 7)
        let shuffled = field(subject.images([2, 0, 3, 1]), state: 7)
        XCTAssertEqual(AdapterMath.flatten(forward).map { $0.bitPattern }, AdapterMath.flatten(shuffled).map { $0.bitPattern })
    }

    func testStepLossIsZeroForTheGradientStep() {
        let denoiser = tinyDenoiser()
        let field = HypernetworkField(tinyFieldConfiguration(denoiser), seed: 1)
        randomizeHeads(field, seed: 4)
        let subject = tinySubject(2)
        let here = field(subject.latents, state: 3)
        var rng = SeededGenerator(seed: 5)
        let (latents, draws) = subjectLossBatch(subject, count: 4, timestepRange: 0..<1000, rng: &rng)
        let (_, gradient) = adapterGradient(
            denoiser: denoiser, schedule: NoiseSchedule(), subject: subject, adapter: here, latents: latents, draws: draws)
        // The step gradient descent at rate η would take.
        let eta: Float = 0.5
        let next = AdapterMath.adding(here.detached(), gradient, scale: -eta)
        let exact = stepLoss(here: here.detached(), next: next, gradient: gradient, learningRate: eta)
        let gradientScale = AdapterMath.flatten(gradient).map { $0 * $0 }.reduce(0, +)
        XCTAssertGreaterThan(gradientScale, 0)
        XCTAssertLessThan(exact.item, 1e-6 * gradientScale)
        // A zero step costs the mean squared gradient.
        let zero = stepLoss(here: here.detached(), next: here.detached(), gradient: gradient, learningRate: eta)
        XCTAssertEqual(zero.item, gradientScale / Float(AdapterMath.flatten(gradient).count), accuracy: 1e-3 * zero.item)
    }

    func testAdapterGradientReachesEverySlot() {
        let denoiser = tinyDenoiser()
        let subject = tinySubject(3)
        var rng = SeededGenerator(seed: 6)
        let initial = Adapter.initial(for: denoiser.slots, rank: 2, alpha: 2, rng: &rng)
        let (latents, draws) = subjectLossBatch(subject, count: 4, timestepRange: 0..<1000, rng: &rng)
        let (_, gradient) = adapterGradient(
            denoiser: denoiser, schedule: NoiseSchedule(), subject: subject, adapter: initial, latents: latents, draws: draws)
        for (name, weights) in gradient.slots {
            // B starts at zero, so A gets no gradient yet but B does.
            XCTAssertTrue(weights.b.data.contains { $0 != 0 }, "slot \(name) has a zero B gradient")
        }
    }

    /// The field's step `(s+1)·Δ(s+1) − s·Δ(s)` multiplies any change of Δ
    /// between neighbouring states by s. With a fast state embedding that
    /// product was about s times the mean step `(H(s) − θ_0) / s`.
    func testStepStaysNearMeanStep() {
        var configuration = tinyFieldConfiguration(tinyDenoiser())
        configuration.totalSteps = 400
        let field = HypernetworkField(configuration, seed: 1)
        randomizeHeads(field, seed: 2)
        let latents = tinySubject(0).latents
        let origin = AdapterMath.flatten(field.initialAdapter)
        let norm = { (x: [Float]) in x.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
        for state in [50.0, 200, 399] {
            let current = AdapterMath.flatten(field(latents, state: state))
            let next = AdapterMath.flatten(field(latents, state: state + 1))
            let step = norm(AdapterMath.subtract(next, current))
            let meanStep = norm(AdapterMath.subtract(current, origin)) / state
            XCTAssertLessThan(step, 5 * meanStep, "state \(state): step \(step) against mean step \(meanStep)")
            XCTAssertGreaterThan(step, 0.2 * meanStep, "state \(state)")
        }
    }
}
