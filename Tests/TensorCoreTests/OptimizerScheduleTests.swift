import XCTest
@testable import TensorCore

final class OptimizerScheduleTests: XCTestCase {
    private let schedule = LearningRateSchedule.warmupCosine(
        peakRate: 1e-3, minimumRate: 1e-5, warmupSteps: 100, totalSteps: 1100)

    func testWarmupStartsAtPeakOverWarmupSteps() {
        XCTAssertEqual(schedule.learningRate(atStep: 0), 1e-5, accuracy: 1e-12)
        XCTAssertEqual(schedule.learningRate(atStep: 49), 5e-4, accuracy: 1e-10)
    }

    func testWarmupEndsAtPeak() {
        XCTAssertEqual(schedule.learningRate(atStep: 99), 1e-3)
        XCTAssertEqual(schedule.learningRate(atStep: 100), 1e-3)
    }

    func testCosineMidpointIsMeanOfPeakAndMinimum() {
        // Step 100 + 1000 / 2 is halfway through the decay: cos(π/2) = 0.
        XCTAssertEqual(schedule.learningRate(atStep: 600), (1e-3 + 1e-5) / 2, accuracy: 1e-10)
    }

    func testCosineEndsAtMinimum() {
        XCTAssertEqual(schedule.learningRate(atStep: 1100), 1e-5)
        XCTAssertEqual(schedule.learningRate(atStep: 5000), 1e-5)
        // One step before the end: 1e-5 + 0.99e-3 * (1 + cos(π · 999/1000)) / 2.
        XCTAssertEqual(schedule.learningRate(atStep: 1099), 1e-5 + 0.99e-3 * 2.4674e-6, accuracy: 5e-12)
    }

    func testCosineDecreasesMonotonically() {
        var previous = schedule.learningRate(atStep: 100)
        for step in 101...1100 {
            let rate = schedule.learningRate(atStep: step)
            XCTAssertLessThanOrEqual(rate, previous, "step \(step)")
            previous = rate
        }
    }

    func testWarmupOfZeroStepsStartsAtPeak() {
        let noWarmup = LearningRateSchedule.warmupCosine(peakRate: 0.1, warmupSteps: 0, totalSteps: 10)
        XCTAssertEqual(noWarmup.learningRate(atStep: 0), 0.1)
        XCTAssertEqual(noWarmup.learningRate(atStep: 5), 0.05, accuracy: 1e-8)
        XCTAssertEqual(noWarmup.learningRate(atStep: 10), 0)
    }

    func testConstantScheduleIgnoresStep() {
        let constant = LearningRateSchedule.constant(3e-4)
        XCTAssertEqual(constant.learningRate(atStep: 0), 3e-4)
        XCTAssertEqual(constant.learningRate(atStep: 1_000_000), 3e-4)
        XCTAssertEqual(constant.kind, .constant)
    }
}
