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

    func testStepSkipsParametersWithoutGradient() {
        let a = optimizerTestParameter([1, 2])
        let b = optimizerTestParameter([3, 4])
        let adam = Adam(parameters: [("a", a), ("b", b)], learningRate: 0.1)
        a.grad = Tensor(shape: [2], data: [1, 1])

        adam.step()

        XCTAssertEqual(b.data, [3, 4])
        XCTAssertNotEqual(a.data, [1, 2])
        XCTAssertNil(adam.stateTensors()["adam.m.b"])
        XCTAssertNotNil(adam.stateTensors()["adam.m.a"])
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

    // MARK: Adam

    func testAdamFirstStepsMatchHandComputedValues() {
        // Ten elements, so that both the four-lane loop (elements 0 to 7) and
        // the scalar tail (8 and 9) run. Even elements share one history and
        // odd elements another.
        let pairs = 5
        let p = optimizerTestParameter(Array(repeating: [1, -1], count: pairs).flatMap { $0 })
        let adam = Adam(parameters: [("p", p)], learningRate: 0.1)
        let gradients: [[Float]] = [[0.5, -2], [0.1, 1], [-0.3, 0.5]]
        // Expected parameters after each step, from the Adam formulas in
        // double precision (lr 0.1, beta1 0.9, beta2 0.999, epsilon 1e-8):
        // m = 0.9 m + 0.1 g, v = 0.999 v + 0.001 g², and
        // p -= 0.1 * (m / (1 - 0.9^t)) / (sqrt(v / (1 - 0.999^t)) + 1e-8).
        // After step 1 the bias-corrected ratio is g / |g|, so p moves by lr.
        let expected: [[Float]] = [
            [0.900000002, -0.9000000005],
            [0.8196959063846518, -0.8733662967024315],
            [0.7986246117635081, -0.8672274104696712],
        ]
        for (step, gradient) in gradients.enumerated() {
            p.grad = Tensor(shape: [2 * pairs], data: Array(repeating: gradient, count: pairs).flatMap { $0 })
            adam.step()
            for i in 0..<(2 * pairs) {
                XCTAssertEqual(p.data[i], expected[step][i % 2], accuracy: 2e-6, "step \(step + 1), element \(i)")
            }
        }
        let state = adam.stateTensors()
        XCTAssertEqual(state["adam.m.p"]!.data[0], 0.0195, accuracy: 1e-7)
        // Float32 rounds 1 - 0.999 to 0.00100005, so v agrees to about 1e-5
        // relative; the step itself hardly depends on that scale.
        XCTAssertEqual(state["adam.v.p"]!.data[9], 0.005241004, accuracy: 1e-7)
    }

    func testAdamGivesSameBitsForAnyThreadCount() {
        // More elements than the parallel grain, and an odd count, so that
        // chunk boundaries fall inside four-lane groups for 2 and 3 threads.
        let count = 300_007
        var generator = SeededGenerator(seed: 5)
        let initial = generator.normalTensor([count]).data
        let gradients = (0..<3).map { _ in generator.normalTensor([count]).data }
        let previousThreadCount = Threading.threadCount
        defer { Threading.setThreadCount(previousThreadCount) }

        var results: [Int: [UInt32]] = [:]
        for threads in [1, 2, 3] {
            Threading.setThreadCount(threads)
            let p = optimizerTestParameter(initial)
            let adamW = AdamW(parameters: [("p", p)], learningRate: 0.01, weightDecay: 0.1)
            for gradient in gradients {
                p.grad = Tensor(shape: [count], data: gradient)
                adamW.step()
            }
            results[threads] = p.data.map(\.bitPattern)
        }

        XCTAssertTrue(results[1]! == results[2]!, "2 threads differ from 1")
        XCTAssertTrue(results[1]! == results[3]!, "3 threads differ from 1")
    }

    func testAdamLateParameterGetsFreshBiasCorrection() {
        let early = optimizerTestParameter([0])
        let late = optimizerTestParameter([1])
        let adam = Adam(parameters: [("early", early), ("late", late)], learningRate: 0.01)
        for _ in 0..<5 {
            early.grad = Tensor(shape: [1], data: [1])
            late.grad = nil
            adam.step()
        }

        late.grad = Tensor(shape: [1], data: [0.2])
        adam.step()

        // The late parameter's first update is its own step 1, where the
        // bias-corrected ratio is g / |g|: it moves by lr, not more.
        XCTAssertEqual(late.data[0], 0.99, accuracy: 1e-6)
        XCTAssertEqual(adam.stateMetadata()["adam.step.late"], "1")
        XCTAssertEqual(adam.stateMetadata()["adam.step.early"], "6")
    }

    func testAdamMinimizesLinearRegression() {
        var generator = SeededGenerator(seed: 7)
        let inputs = generator.normalTensor([64, 3])
        let trueWeight = Tensor(shape: [1, 3], data: [0.5, -1.5, 2])
        let trueBias = Tensor(shape: [1], data: [0.3])
        let targets = inputs.linear(weight: trueWeight, bias: trueBias)
        let weight = Tensor.zeros([1, 3], requiresGrad: true)
        let bias = Tensor.zeros([1], requiresGrad: true)
        let adam = Adam(parameters: [("weight", weight), ("bias", bias)])
        let schedule = LearningRateSchedule.warmupCosine(peakRate: 0.1, minimumRate: 0, warmupSteps: 10, totalSteps: 400)
        let initialLoss = (inputs.linear(weight: weight, bias: bias) - targets).square().mean().item

        var loss: Float = .infinity
        for step in 0..<400 {
            adam.zeroGrad()
            let lossTensor = (inputs.linear(weight: weight, bias: bias) - targets).square().mean()
            loss = lossTensor.item
            lossTensor.backward()
            adam.learningRate = schedule.learningRate(atStep: step)
            adam.step()
        }

        XCTAssertGreaterThan(initialLoss, 1)
        XCTAssertLessThan(loss, 1e-6)
        XCTAssertLessThan(maxAbsoluteDifference(weight.data, trueWeight.data), 1e-3)
        XCTAssertEqual(bias.data[0], 0.3, accuracy: 1e-3)
    }

    // MARK: AdamW

    func testAdamWDecaysZeroGradientWeight() {
        let lr: Float = 0.1
        let decay: Float = 0.01
        let initial: [Float] = [2, -0.5, 0, 1000]
        let p = optimizerTestParameter(initial)
        let adamW = AdamW(parameters: [("p", p)], learningRate: lr, weightDecay: decay)
        p.grad = Tensor.zeros([4])

        adamW.step()

        // With zero gradient the moments stay 0 and the Adam term is
        // 0 / (0 + epsilon) = 0, so only the decoupled decay acts.
        for i in initial.indices {
            XCTAssertEqual(p.data[i], initial[i] - lr * decay * initial[i], "element \(i)")
        }
        XCTAssertEqual(p.data[0], 1.998, accuracy: 1e-6)
    }

    func testAdamL2DecayMovesWeightByRate() {
        let p = optimizerTestParameter([2, -0.5, 1000])
        let adam = Adam(parameters: [("p", p)], learningRate: 0.1, weightDecay: 0.01)
        p.grad = Tensor.zeros([3])

        adam.step()

        // The L2 term 0.01 * p goes through the moments, and Adam's first
        // step normalizes it to sign(p): every weight moves by lr = 0.1,
        // whatever its size, where AdamW would remove 0.1 % of it.
        XCTAssertEqual(p.data[0], 1.9, accuracy: 1e-5)
        XCTAssertEqual(p.data[1], -0.4, accuracy: 1e-5)
        XCTAssertEqual(p.data[2], 999.9, accuracy: 1e-3)
    }

    func testAdamWEqualsAdamStepPlusDecoupledDecay() {
        let initial: [Float] = [1.5, -0.75, 0.25]
        let plain = optimizerTestParameter(initial)
        let decayed = optimizerTestParameter(initial)
        let adam = Adam(parameters: [("p", plain)], learningRate: 0.05)
        let adamW = AdamW(parameters: [("p", decayed)], learningRate: 0.05, weightDecay: 0.2)
        let gradient: [Float] = [0.3, 0.1, -0.4]

        plain.grad = Tensor(shape: [3], data: gradient)
        decayed.grad = Tensor(shape: [3], data: gradient)
        adam.step()
        adamW.step()

        // One step from the same start: AdamW = Adam - lr * wd * p0.
        for i in initial.indices {
            XCTAssertEqual(decayed.data[i], plain.data[i] - 0.05 * 0.2 * initial[i], accuracy: 1e-6, "element \(i)")
        }
    }
}
