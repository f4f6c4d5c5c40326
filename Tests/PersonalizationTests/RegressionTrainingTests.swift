import Foundation
import TestSupport
import XCTest
@testable import Diffusion
@testable import Personalization
@testable import TensorCore

final class RegressionTrainingTests: XCTestCase {
    /// Targets that differ per subject: θ_0 plus a subject-specific offset.
    private func targets(for subjects: [SubjectLatents], initial: Adapter) -> [Adapter] {
        subjects.enumerated().map { index, _ in
            var rng = SeededGenerator(seed: 40 + UInt64(index))
            var target = Adapter()
            for (name, weights) in initial.slots {
                target.slots[name] = LoRAWeights(
                    a: weights.a + rng.normalTensor(weights.a.shape) * 0.01,
                    b: weights.b + rng.normalTensor(weights.b.shape) * 0.01, alpha: weights.alpha)
            }
            return target
        }
    }

    func testSquaredErrorIsZeroOnlyForEqualAdapters() {
        let field = HypernetworkField(tinyFieldConfiguration(tinyDenoiser()), seed: 1)
        let initial = field.initialAdapter
        let moved = targets(for: [tinySubject(0)], initial: initial)[0]
        XCTAssertEqual(adapterSquaredError(initial, initial).item, 0)
        XCTAssertGreaterThan(adapterSquaredError(moved, initial).item, 1e-5)
        // The mean square of a 0.01-scale normal offset is about 1e-4 per element.
        let offset = RegressionTrainingTask.meanSquaredOffset([moved], from: initial)
        XCTAssertEqual(offset, 1e-4, accuracy: 3e-5)
    }

    func testTrainingLowersTheLossAndMatchesSubjects() throws {
        let denoiser = tinyDenoiser()
        var configuration = tinyFieldConfiguration(denoiser)
        let subjects = (0..<4).map { tinySubject($0) }
        let initial = HypernetworkField(configuration, seed: 1).initialAdapter
        let goals = targets(for: subjects, initial: initial)
        let sigma = RegressionTrainingTask.meanSquaredOffset(goals, from: initial).squareRoot()
        configuration.gradientScale = sigma / (configuration.learningRate * Float(configuration.totalSteps))
        let network = HypernetworkField(configuration, seed: 1)
        let task = RegressionTrainingTask(network: network, subjects: subjects, targets: goals)

        func meanError() -> Float {
            GradMode.withoutGradients {
                zip(subjects, goals).map { subject, goal in
                    adapterSquaredError(network(subject.latents, state: Double(configuration.totalSteps)), goal).item
                }.reduce(0, +) / Float(subjects.count)
            } / task.targetScaleSquared
        }
        let before = meanError()
        // A network that predicts θ_0 scores about 1.
        XCTAssertEqual(before, 1, accuracy: 0.05)

        var settings = TrainingSettings()
        settings.steps = 400
        settings.batchSize = 4
        settings.learningRate = 1e-2
        settings.warmupSteps = 10
        settings.emaDecay = 0
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("regression-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let trainer = Trainer(task: task, settings: settings, store: CheckpointStore(folder: folder, keep: 1))
        try trainer.run()
        let after = meanError()
        XCTAssertLessThan(after, 0.5 * before, "training should fit the targets: error \(before) → \(after)")

        // Each subject's prediction is nearer its own target than another's.
        for (index, subject) in subjects.enumerated() {
            let predicted = GradMode.withoutGradients { network(subject.latents, state: Double(configuration.totalSteps)) }
            let own = adapterSquaredError(predicted, goals[index]).item
            let other = adapterSquaredError(predicted, goals[(index + 1) % goals.count]).item
            XCTAssertLessThan(own, other, "subject \(index)")
        }
    }
}
