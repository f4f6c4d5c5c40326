import Foundation
import TestSupport
import XCTest
@testable import Diffusion
@testable import Personalization
@testable import TensorCore

final class FieldTrainingTests: XCTestCase {
    /// Mean step loss over fixed subjects, states and draws.
    private func evaluationLoss(_ task: FieldTrainingTask, subjects: [SubjectLatents]) -> Float {
        var rng = SeededGenerator(seed: 77)
        var total: Float = 0
        var count = 0
        GradMode.withoutGradients {}
        for subject in subjects {
            for state in [0, 5, 10, 15] {
                let features = task.field.subjectFeatures(subject.latents)
                let here = task.field.adapter(features: features, state: Double(state))
                let next = task.field.adapter(features: features, state: Double(state + 1))
                let (latents, draws) = subjectLossBatch(subject, count: 16, timestepRange: 0..<1000, rng: &rng)
                let (_, gradient) = adapterGradient(
                    denoiser: task.denoiser, schedule: task.schedule, subject: subject, adapter: here.detached(),
                    latents: latents, draws: draws)
                total += stepLoss(here: here.detached(), next: next.detached(), gradient: gradient,
                                  learningRate: task.field.configuration.learningRate,
                                  gradientScale: task.field.configuration.gradientScale).item
                count += 1
            }
        }
        return total / Float(count)
    }

    func testMoreDrawsAgreeBetter() {
        let denoiser = tinyDenoiser()
        let field = HypernetworkField(tinyFieldConfiguration(denoiser), seed: 1)
        let subjects = (0..<3).map { tinySubject($0) }
        func agreement(_ draws: Int) -> Double {
            gradientEstimateCosine(
                field: field, denoiser: denoiser, schedule: NoiseSchedule(), subjects: subjects, states: [0, 10],
                draws: draws)
        }
        let few = agreement(2), many = agreement(64)
        XCTAssertGreaterThan(many, few, "2 draws: \(few), 64 draws: \(many)")
        XCTAssertGreaterThan(many, 0.5)
        XCTAssertLessThanOrEqual(many, 1.0001)
    }

    func testSubjectCopiesShareDirection() {
        let denoiser = tinyDenoiser()
        let field = HypernetworkField(tinyFieldConfiguration(denoiser), seed: 1)
        let copies = [tinySubject(4), tinySubject(4), tinySubject(4)]
        let agreement = fieldStepAgreement(
            field: field, denoiser: denoiser, schedule: NoiseSchedule(), subjects: copies, states: [0], draws: 64)
        // An untrained field (zero heads) does not move, so its step has no direction.
        XCTAssertEqual(agreement.withOwnGradient, 0)
        XCTAssertEqual(agreement.withMeanGradient, 0)
        XCTAssertGreaterThan(agreement.sharedByGradients, 0.5)
        XCTAssertLessThanOrEqual(agreement.sharedByGradients, 1.0001)
    }

    func testTinyFieldLearnsAndTracksGradientDescent() throws {
        try assertTinyFieldLearns(.bothStates)
    }

    func testTinyFieldLearnsNextTarget() throws {
        try assertTinyFieldLearns(.nextStateOnly)
    }

    private func assertTinyFieldLearns(_ target: StepTarget) throws {
        let denoiser = tinyDenoiser()
        var configuration = tinyFieldConfiguration(denoiser)
        let schedule = NoiseSchedule()
        let training = (0..<6).map { tinySubject($0) }
        configuration.gradientScale = measureGradientScale(
            denoiser: denoiser, schedule: schedule, subjects: training,
            initial: HypernetworkField(configuration, seed: 1).initialAdapter, draws: 16)
        let field = HypernetworkField(configuration, seed: 1)
        let heldOut = tinySubject(50)
        let task = FieldTrainingTask(
            field: field, denoiser: denoiser, schedule: schedule, subjects: training, drawsPerSubject: 16)
        task.stepTarget = target

        let before = evaluationLoss(task, subjects: training)
        var settings = TrainingSettings()
        settings.steps = 300
        settings.batchSize = 2
        settings.learningRate = 1e-2
        settings.minimumLearningRate = 1e-3
        settings.warmupSteps = 20
        settings.emaDecay = 0
        settings.checkpointEvery = 0
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hyperfield-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Trainer(task: task, settings: settings, store: CheckpointStore(folder: folder)).run()
        let after = evaluationLoss(task, subjects: training)
        XCTAssertLessThan(after, 0.9 * before, "field loss before \(before), after \(after)")
        let agreement = fieldStepAgreement(
            field: field, denoiser: denoiser, schedule: schedule, subjects: Array(training.prefix(3)), states: [0, 10],
            draws: 32)
        // 0.81 when written; an untrained field scores 0.
        print("\(target): loss \(before) -> \(after), step agreement \(agreement.withOwnGradient)")
        XCTAssertGreaterThan(agreement.withOwnGradient, 0.5)

        // Real gradient descent on the held-out subject, from θ_0.
        let initial = field.initialAdapter
        let total = configuration.totalSteps
        let sgd = PerSubjectTraining(method: .sgd(learningRate: configuration.learningRate), steps: total, drawsPerStep: 32)
        var rng = SeededGenerator(seed: 9)
        let path = sgd.run(denoiser: denoiser, schedule: schedule, subject: heldOut, initial: initial,
                           snapshots: [total / 2, total], rng: &rng)
        let start = AdapterMath.flatten(initial)
        for state in [total / 2, total] {
            let real = AdapterMath.flatten(path[state]!)
            let predicted = GradMode.withoutGradients { AdapterMath.flatten(field(heldOut.latents, state: Double(state))) }
            let fieldError = AdapterMath.relativeError(
                AdapterMath.subtract(predicted, start), AdapterMath.subtract(real, start))
            // θ_0 itself has relative error 1 on θ_s − θ_0.
            XCTAssertLessThan(fieldError, 0.9, "state \(state): relative error of the field's θ_s − θ_0 is \(fieldError)")
        }
    }
}
