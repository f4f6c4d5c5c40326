import Foundation
import ImageIO
import TensorCore
import XCTest
@testable import Metrics

final class TrainingTests: XCTestCase {
    private func settings(steps: Int, batchSize: Int) -> FeatureTrainingSettings {
        var settings = FeatureTrainingSettings()
        settings.steps = steps
        settings.batchSize = batchSize
        settings.learningRate = 3e-3
        settings.warmupSteps = 2
        settings.minimumLearningRate = 3e-4
        settings.seed = 4
        return settings
    }

    /// Loss of `objective` on a batch drawn from a fixed seed, without a tape.
    private func fixedBatchLoss(_ objective: FeatureTrainingObjective, batchSize: Int) -> Float {
        var rng = SeededGenerator(seed: 123)
        return GradMode.withoutGradients { objective.loss(batchSize: batchSize, progress: 0, rng: &rng).item }
    }

    func testContrastiveTrainingLowersLoss() throws {
        let data = FeatureTrainingSet(syntheticDataset(subjects: 12, imagesPerSubject: 3))
        let objective = ContrastiveObjective(net: FeatureNet(tinyConfiguration(.contrastive), seed: 2), data: data)
        let before = fixedBatchLoss(objective, batchSize: 8)

        let summary = try FeatureNetTrainer(objective: objective, settings: settings(steps: 40, batchSize: 8)).run()
        let after = fixedBatchLoss(objective, batchSize: 8)

        XCTAssertEqual(summary.steps, 40)
        XCTAssertTrue(before.isFinite, "loss before training is \(before)")
        XCTAssertTrue(after.isFinite, "loss after training is \(after)")
        XCTAssertLessThan(after, before * 0.9, "40 steps should lower the InfoNCE loss on a fixed batch")
    }

    func testStudentLearnsFrozenTeacher() throws {
        // With the teacher and the centre frozen the targets stay fixed, so the
        // student's loss on a fixed batch must fall. A moving teacher
        // sharpens its targets as it learns, which can raise the loss at first.
        let data = FeatureTrainingSet(syntheticDataset(subjects: 12, imagesPerSubject: 3))
        let objective = SelfDistillationObjective(net: FeatureNet(tinyConfiguration(.selfDistillation), seed: 2), data: data)
        objective.localViewCount = 2
        objective.teacherMomentum = 1...1
        objective.centerMomentum = 1
        let before = fixedBatchLoss(objective, batchSize: 8)

        let summary = try FeatureNetTrainer(objective: objective, settings: settings(steps: 40, batchSize: 8)).run()
        let after = fixedBatchLoss(objective, batchSize: 8)

        XCTAssertEqual(summary.steps, 40)
        XCTAssertTrue(before.isFinite, "loss before training is \(before)")
        XCTAssertTrue(after.isFinite, "loss after training is \(after)")
        XCTAssertLessThan(after, before, "40 steps should lower the distillation loss on a fixed batch")
    }

    func testTeacherStartsEqualAndFollowsStudent() {
        let data = FeatureTrainingSet(syntheticDataset(subjects: 4, imagesPerSubject: 2))
        let net = FeatureNet(tinyConfiguration(.selfDistillation), seed: 2)
        let objective = SelfDistillationObjective(net: net, data: data, seed: 77)
        let studentWeight = net.namedParameters()[0].tensor
        let teacherWeight = objective.teacher.namedParameters()[0].tensor
        XCTAssertEqual(teacherWeight.data, studentWeight.data, "the teacher starts as a copy of the student")
        XCTAssertFalse(teacherWeight.requiresGrad, "the teacher takes no gradients")

        let before = teacherWeight.data[0]
        studentWeight.data[0] = before + 1
        objective.teacherMomentum = 0.9...0.9
        objective.didUpdate(progress: 0.5)

        XCTAssertEqual(teacherWeight.data[0], before + 0.1, accuracy: 1e-6, "one update moves the teacher by 1 - momentum of the gap")
    }

    func testTimeLimitStopsEarly() throws {
        let data = FeatureTrainingSet(syntheticDataset(subjects: 6, imagesPerSubject: 2))
        let objective = ContrastiveObjective(net: FeatureNet(tinyConfiguration(.contrastive), seed: 2), data: data)
        var limited = settings(steps: 1000, batchSize: 4)
        limited.maximumSeconds = 1e-6

        let summary = try FeatureNetTrainer(objective: objective, settings: limited).run()

        XCTAssertEqual(summary.steps, 1, "the limit is checked after each step")
    }

    func testContrastivePairsComeFromDistinctSubjects() {
        let dataset = syntheticDataset(subjects: 10, imagesPerSubject: 2)
        let objective = ContrastiveObjective(net: FeatureNet(tinyConfiguration(.contrastive)), data: FeatureTrainingSet(dataset))
        objective.identityPairProbability = 1
        var rng = SeededGenerator(seed: 1)

        let pairs = objective.drawPairs(10, rng: &rng)

        let firstImages = pairs.map(\.0)
        XCTAssertEqual(Set(firstImages.map(\.pixels)).count, 10, "every pair comes from another subject")
        for (first, second) in pairs {
            XCTAssertNotEqual(first, second, "identity pairs use two different images")
        }
    }
}
