import XCTest
@testable import TensorCore

final class OptimizerEMATests: XCTestCase {
    func testAverageAfterUpdatesEqualsClosedForm() {
        let p = optimizerTestParameter([1, -2])
        let decay: Float = 0.8
        let ema = ExponentialMovingAverage(parameters: [("p", p)], decay: decay)
        let values: [[Float]] = [[2, 0], [3, 1], [-1, 4], [0.5, 0.5], [5, -3]]

        for value in values {
            p.data = value
            ema.update()
        }

        // shadow_k = d^k · p_0 + Σ_i (1 - d) · d^(k - i) · p_i for updates i = 1…k.
        let d = Double(decay)
        let k = values.count
        for element in 0..<2 {
            var expected = Foundation.pow(d, Double(k)) * Double([1, -2][element])
            for (i, value) in values.enumerated() {
                expected += (1 - d) * Foundation.pow(d, Double(k - (i + 1))) * Double(value[element])
            }
            XCTAssertEqual(Double(ema.average(named: "p")!.data[element]), expected, accuracy: 1e-6, "element \(element)")
        }
        XCTAssertEqual(ema.updateCount, 5)
    }

    func testWarmupLowersEarlyDecay() {
        let p = optimizerTestParameter([0])
        let ema = ExponentialMovingAverage(parameters: [("p", p)], decay: 0.99, usesWarmup: true)
        // Decay min(0.99, (1 + n) / (10 + n)) for update n.
        XCTAssertEqual(ema.nextDecay, 0.1, accuracy: 1e-7)

        p.data = [10]
        ema.update()
        // 0.1 · 0 + 0.9 · 10.
        XCTAssertEqual(ema.average(named: "p")!.data[0], 9, accuracy: 1e-5)
        XCTAssertEqual(ema.nextDecay, 2 / 11, accuracy: 1e-7)

        for _ in 1..<1000 { ema.update() }
        XCTAssertEqual(ema.nextDecay, 0.99)
    }

    func testWithAveragesSwapsInAndBack() throws {
        let model = OptimizerTestModel(seed: 3)
        let ema = ExponentialMovingAverage(parameters: model.trainableParameters(), decay: 0.5)
        let initial = model.head.weight.data
        model.head.weight.data = initial.map { $0 + 2 }
        ema.update()
        let live = model.head.weight.data

        let inside = try ema.withAverages(in: model) { model.head.weight.data }

        XCTAssertEqual(maxAbsoluteDifference(inside, initial.map { $0 + 1 }), 0, accuracy: 1e-6)
        XCTAssertEqual(model.head.weight.data, live)
        XCTAssertFalse(ema.isSwapped)
    }

    func testSwapTwiceRestoresWeights() throws {
        let model = OptimizerTestModel(seed: 4)
        let ema = ExponentialMovingAverage(parameters: model.trainableParameters(), decay: 0.5)
        let initial = model.hidden.bias.data
        model.hidden.bias.data = initial.map { $0 * 3 }
        ema.update()

        try ema.swapAverages(with: model)
        XCTAssertTrue(ema.isSwapped)
        XCTAssertEqual(maxAbsoluteDifference(model.hidden.bias.data, initial.map { $0 * 2 }), 0, accuracy: 1e-6)
        try ema.swapAverages(with: model)

        XCTAssertFalse(ema.isSwapped)
        XCTAssertEqual(model.hidden.bias.data, initial.map { $0 * 3 })
    }

    func testCopyAveragesIntoAnotherModel() throws {
        let model = OptimizerTestModel(seed: 5)
        let evaluationCopy = OptimizerTestModel(seed: 6)
        let ema = ExponentialMovingAverage(parameters: model.trainableParameters(), decay: 0.9)
        ema.update()

        try ema.copyAverages(into: evaluationCopy)

        for ((name, source), (_, target)) in zip(model.namedParameters(), evaluationCopy.namedParameters()) {
            XCTAssertEqual(source.data, target.data, name)
        }
    }

    func testCopyParametersResetsAverages() throws {
        let model = OptimizerTestModel(seed: 5)
        let other = OptimizerTestModel(seed: 8)
        let ema = ExponentialMovingAverage(parameters: model.trainableParameters(), decay: 0.9)

        try ema.copyParameters(from: other)

        XCTAssertEqual(ema.average(named: "head.weight")!.data, other.head.weight.data)
        XCTAssertNotEqual(ema.average(named: "head.weight")!.data, model.head.weight.data)
    }

    func testCopyAveragesRejectsMissingParameter() {
        let model = OptimizerTestModel(seed: 5)
        let extra = optimizerTestParameter([1, 2])
        let ema = ExponentialMovingAverage(parameters: model.trainableParameters() + [("extra.scale", extra)])

        XCTAssertThrowsError(try ema.copyAverages(into: model)) { error in
            guard case TensorCoreError.missingParameter(let message) = error else {
                return XCTFail("expected missingParameter, got \(error)")
            }
            XCTAssertTrue(message.contains("extra.scale"), message)
        }
    }

    func testStateRoundTripContinuesExactly() throws {
        let p = optimizerTestParameter([1, 2, 3])
        let ema = ExponentialMovingAverage(parameters: [("p", p)], decay: 0.95, usesWarmup: true)
        for step in 0..<3 {
            p.data = p.data.map { $0 + Float(step) }
            ema.update()
        }
        let tensors = ema.stateTensors()
        let metadata = ema.stateMetadata()
        let restored = ExponentialMovingAverage(parameters: [("p", p)], decay: 0.5)

        try restored.restoreState(tensors: tensors, metadata: metadata)
        for _ in 0..<2 {
            p.data = p.data.map { $0 * 0.5 }
            ema.update()
            restored.update()
        }

        XCTAssertEqual(restored.average(named: "p")!.data, ema.average(named: "p")!.data)
        XCTAssertEqual(restored.updateCount, 5)
        XCTAssertEqual(restored.decay, 0.95)
        XCTAssertTrue(restored.usesWarmup)
    }

    func testRestoreRejectsWrongShape() {
        let p = optimizerTestParameter([1, 2, 3, 4], shape: [2, 2])
        let ema = ExponentialMovingAverage(parameters: [("block.p", p)])
        let wrong = ["ema.block.p": Tensor.zeros([4])]

        XCTAssertThrowsError(try ema.restoreState(tensors: wrong, metadata: ema.stateMetadata())) { error in
            guard case TensorCoreError.shapeMismatch(let message) = error else {
                return XCTFail("expected shapeMismatch, got \(error)")
            }
            XCTAssertTrue(message.contains("block.p"), message)
            XCTAssertTrue(message.contains("[4]"), message)
            XCTAssertTrue(message.contains("[2, 2]"), message)
        }
        XCTAssertEqual(ema.average(named: "block.p")!.data, [1, 2, 3, 4])
    }

    func testRestoreRejectsMissingAverage() {
        let a = optimizerTestParameter([1])
        let b = optimizerTestParameter([2])
        let ema = ExponentialMovingAverage(parameters: [("a", a), ("b", b)])
        var tensors = ema.stateTensors()
        tensors["ema.b"] = nil

        XCTAssertThrowsError(try ema.restoreState(tensors: tensors, metadata: ema.stateMetadata())) { error in
            guard case TensorCoreError.missingParameter(let message) = error else {
                return XCTFail("expected missingParameter, got \(error)")
            }
            XCTAssertTrue(message.contains("ema.b"), message)
        }
    }
}
