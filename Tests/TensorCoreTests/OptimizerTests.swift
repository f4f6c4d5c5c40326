import XCTest
@testable import TensorCore

final class OptimizerTests: XCTestCase {
    // MARK: SGD

    func testSGDStepMatchesHandComputedValues() {
        let p = optimizerTestParameter([1, -2, 3])
        let sgd = SGD(parameters: [("p", p)], learningRate: 0.1)
        p.grad = Tensor(shape: [3], data: [0.5, 0.25, -1])

        sgd.step()

        // p - lr * g = [1 - 0.05, -2 - 0.025, 3 + 0.1]
        XCTAssertEqual(p.data[0], 0.95, accuracy: 1e-6)
        XCTAssertEqual(p.data[1], -2.025, accuracy: 1e-6)
        XCTAssertEqual(p.data[2], 3.1, accuracy: 1e-6)
        XCTAssertEqual(sgd.stepCount, 1)
    }

    func testSGDMomentumAccumulatesVelocity() {
        let p = optimizerTestParameter([1, 1])
        let sgd = SGD(parameters: [("p", p)], learningRate: 0.1, momentum: 0.9)

        p.grad = Tensor(shape: [2], data: [1, -2])
        sgd.step()
        // Velocity b1 = g, so p1 = p - 0.1 * g = [0.9, 1.2].
        XCTAssertEqual(p.data[0], 0.9, accuracy: 1e-6)
        XCTAssertEqual(p.data[1], 1.2, accuracy: 1e-6)

        p.grad = Tensor(shape: [2], data: [1, -2])
        sgd.step()
        // b2 = 0.9 * g + g = 1.9 g, so p2 = p1 - 0.19 * g = [0.71, 1.58].
        XCTAssertEqual(p.data[0], 0.71, accuracy: 1e-6)
        XCTAssertEqual(p.data[1], 1.58, accuracy: 1e-6)
    }

    func testSGDNesterovWithWeightDecay() {
        let p = optimizerTestParameter([2])
        let sgd = SGD(parameters: [("p", p)], learningRate: 0.1, momentum: 0.5, weightDecay: 0.25, nesterov: true)

        p.grad = Tensor(shape: [1], data: [1])
        sgd.step()
        // g = 1 + 0.25 * 2 = 1.5; b = 1.5; d = g + 0.5 * b = 2.25; p = 2 - 0.225.
        XCTAssertEqual(p.data[0], 1.775, accuracy: 1e-6)

        p.grad = Tensor(shape: [1], data: [1])
        sgd.step()
        // g = 1 + 0.25 * 1.775 = 1.44375; b = 0.75 + 1.44375 = 2.19375;
        // d = 1.44375 + 1.096875 = 2.540625; p = 1.775 - 0.2540625.
        XCTAssertEqual(p.data[0], 1.5209375, accuracy: 1e-6)
    }

    func testZeroGradClearsEveryGradient() {
        let a = optimizerTestParameter([1])
        let b = optimizerTestParameter([2])
        a.grad = Tensor(shape: [1], data: [5])
        b.grad = Tensor(shape: [1], data: [6])
        let sgd = SGD(parameters: [("a", a), ("b", b)], learningRate: 0.1)

        sgd.zeroGrad()

        XCTAssertNil(a.grad)
        XCTAssertNil(b.grad)
    }
}
