import XCTest
@testable import TensorCore

final class OptimizerStateTests: XCTestCase {
    /// Fixed regression data: inputs `[16, 3]`, targets `[16, 2]`.
    private func regressionData() -> (inputs: Tensor, targets: Tensor) {
        var generator = SeededGenerator(seed: 21)
        return (generator.normalTensor([16, 3]), generator.normalTensor([16, 2]))
    }

    /// Runs the training steps `steps` of `model` with `optimizer`: MSE loss,
    /// backward, clipping, scheduled learning rate, step. The head bias gets
    /// no gradient before step 3, so per-parameter step counts differ.
    private func train(_ model: OptimizerTestModel, with optimizer: Optimizer, steps: Range<Int>) {
        let (inputs, targets) = regressionData()
        let schedule = LearningRateSchedule.warmupCosine(peakRate: 0.05, minimumRate: 0.001, warmupSteps: 3, totalSteps: 20)
        for step in steps {
            optimizer.zeroGrad()
            let loss = (model(inputs) - targets).square().mean()
            loss.backward()
            if step < 3 { model.head.bias.grad = nil }
            clipGradientNorm(optimizer.parameters, maxNorm: 0.5)
            optimizer.learningRate = schedule.learningRate(atStep: step)
            optimizer.step()
        }
    }

    /// Copies of every tensor, as a checkpoint file would return them.
    private func deepCopy(_ tensors: [String: Tensor]) -> [String: Tensor] {
        tensors.mapValues { Tensor(shape: $0.shape, data: Array($0.data)) }
    }

    /// Trains N + M steps in one run, and N steps, a save, a restore into a
    /// fresh model and optimizer, and M more steps in another, then checks
    /// that every parameter has the same bits.
    private func assertContinuesExactly(
        makeOptimizer: (OptimizerTestModel) -> Optimizer,
        makeFreshOptimizer: (OptimizerTestModel) -> Optimizer,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let firstSteps = 0..<7
        let laterSteps = 7..<15

        let uninterrupted = OptimizerTestModel(seed: 1)
        train(uninterrupted, with: makeOptimizer(uninterrupted), steps: 0..<15)

        let saved = OptimizerTestModel(seed: 1)
        let savedOptimizer = makeOptimizer(saved)
        train(saved, with: savedOptimizer, steps: firstSteps)
        let weights = deepCopy(Dictionary(uniqueKeysWithValues: saved.namedParameters().map { ($0.name, $0.tensor) }))
        let stateTensors = deepCopy(savedOptimizer.stateTensors())
        let stateMetadata = savedOptimizer.stateMetadata()

        let resumed = OptimizerTestModel(seed: 99)
        try resumed.load(weights)
        let resumedOptimizer = makeFreshOptimizer(resumed)
        try resumedOptimizer.restoreState(tensors: stateTensors, metadata: stateMetadata)
        XCTAssertEqual(resumedOptimizer.stepCount, 7, file: file, line: line)
        train(resumed, with: resumedOptimizer, steps: laterSteps)

        for ((name, expected), (_, actual)) in zip(uninterrupted.namedParameters(), resumed.namedParameters()) {
            let firstDifference = zip(actual.data, expected.data).enumerated().first {
                $0.element.0.bitPattern != $0.element.1.bitPattern
            }
            XCTAssertNil(
                firstDifference,
                "parameter \(name), element \(firstDifference?.offset ?? -1): resumed \(firstDifference?.element.0 ?? 0), uninterrupted \(firstDifference?.element.1 ?? 0)",
                file: file, line: line)
        }
    }

    func testAdamResumesBitIdentical() throws {
        try assertContinuesExactly(
            makeOptimizer: { Adam(parameters: $0.trainableParameters(), beta2: 0.99, weightDecay: 0.01) },
            makeFreshOptimizer: { Adam(parameters: $0.trainableParameters()) })
    }

    func testAdamWResumesBitIdentical() throws {
        try assertContinuesExactly(
            makeOptimizer: { AdamW(parameters: $0.trainableParameters(), beta1: 0.8, weightDecay: 0.1) },
            makeFreshOptimizer: { AdamW(parameters: $0.trainableParameters()) })
    }

    func testSGDResumesBitIdentical() throws {
        try assertContinuesExactly(
            makeOptimizer: { SGD(parameters: $0.trainableParameters(), learningRate: 0.1, momentum: 0.9, weightDecay: 0.001, nesterov: true) },
            makeFreshOptimizer: { SGD(parameters: $0.trainableParameters(), learningRate: 1) })
    }

    func testStateTensorsAreSnapshots() {
        let p = optimizerTestParameter([1, 2])
        let adam = Adam(parameters: [("p", p)])
        p.grad = Tensor(shape: [2], data: [1, 1])
        adam.step()
        let saved = adam.stateTensors()
        let firstMoment = saved["adam.m.p"]!.data

        adam.step()

        XCTAssertEqual(saved["adam.m.p"]!.data, firstMoment)
        XCTAssertNotEqual(adam.stateTensors()["adam.m.p"]!.data, firstMoment)
    }

    func testMetadataRecordsHyperparameters() {
        let adamW = AdamW(parameters: [("p", optimizerTestParameter([1]))], learningRate: 3e-4, weightDecay: 0.05)
        let metadata = adamW.stateMetadata()

        XCTAssertEqual(metadata["optimizer.type"], "AdamW")
        XCTAssertEqual(metadata["optimizer.step"], "0")
        XCTAssertEqual(metadata["optimizer.learning_rate"].flatMap { Float($0) }, 3e-4)
        XCTAssertEqual(metadata["optimizer.weight_decay"].flatMap { Float($0) }, 0.05)
        XCTAssertEqual(metadata["optimizer.beta2"].flatMap { Float($0) }, 0.999)
    }

    func testRestoreRejectsWrongShape() {
        let trained = optimizerTestParameter([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let adam = Adam(parameters: [("layer.weight", trained)])
        trained.grad = Tensor.ones([2, 3])
        adam.step()
        let other = optimizerTestParameter([1, 2, 3, 4, 5, 6], shape: [3, 2])
        let fresh = Adam(parameters: [("layer.weight", other)])

        XCTAssertThrowsError(try fresh.restoreState(tensors: adam.stateTensors(), metadata: adam.stateMetadata())) { error in
            guard case TensorCoreError.shapeMismatch(let message) = error else {
                return XCTFail("expected shapeMismatch, got \(error)")
            }
            XCTAssertTrue(message.contains("layer.weight"), message)
            XCTAssertTrue(message.contains("[2, 3]"), message)
            XCTAssertTrue(message.contains("[3, 2]"), message)
        }
        XCTAssertEqual(fresh.stepCount, 0)
        XCTAssertTrue(fresh.stateTensors().isEmpty)
    }

    func testSGDRestoreRejectsWrongShape() {
        let trained = optimizerTestParameter([1, 2, 3])
        let sgd = SGD(parameters: [("bias", trained)], learningRate: 0.1, momentum: 0.9)
        trained.grad = Tensor.ones([3])
        sgd.step()
        let fresh = SGD(parameters: [("bias", optimizerTestParameter([1, 2]))], learningRate: 0.1, momentum: 0.9)

        XCTAssertThrowsError(try fresh.restoreState(tensors: sgd.stateTensors(), metadata: sgd.stateMetadata())) { error in
            guard case TensorCoreError.shapeMismatch(let message) = error else {
                return XCTFail("expected shapeMismatch, got \(error)")
            }
            XCTAssertTrue(message.contains("bias"), message)
            XCTAssertTrue(message.contains("[3]"), message)
            XCTAssertTrue(message.contains("[2]"), message)
        }
    }

    func testRestoreRejectsUnknownParameter() {
        let p = optimizerTestParameter([1])
        let adam = Adam(parameters: [("encoder.scale", p)])
        p.grad = Tensor.ones([1])
        adam.step()
        let fresh = Adam(parameters: [("decoder.scale", optimizerTestParameter([1]))])

        XCTAssertThrowsError(try fresh.restoreState(tensors: adam.stateTensors(), metadata: adam.stateMetadata())) { error in
            guard case TensorCoreError.missingParameter(let message) = error else {
                return XCTFail("expected missingParameter, got \(error)")
            }
            XCTAssertTrue(message.contains("encoder.scale"), message)
        }
    }

    func testRestoreRejectsOtherOptimizerType() {
        let p = optimizerTestParameter([1])
        let adamW = AdamW(parameters: [("p", p)])
        let adam = Adam(parameters: [("p", p)])

        XCTAssertThrowsError(try adam.restoreState(tensors: adamW.stateTensors(), metadata: adamW.stateMetadata())) { error in
            guard case TensorCoreError.invalidState(let message) = error else {
                return XCTFail("expected invalidState, got \(error)")
            }
            XCTAssertTrue(message.contains("AdamW"), message)
        }
    }

    func testRestoreRejectsMissingMetadata() {
        let p = optimizerTestParameter([1])
        let adam = Adam(parameters: [("p", p)])
        var metadata = adam.stateMetadata()
        metadata["optimizer.beta1"] = nil

        XCTAssertThrowsError(try adam.restoreState(tensors: [:], metadata: metadata)) { error in
            guard case TensorCoreError.invalidState(let message) = error else {
                return XCTFail("expected invalidState, got \(error)")
            }
            XCTAssertTrue(message.contains("optimizer.beta1"), message)
        }
    }

    func testRestoreRejectsPartialParameterState() {
        let p = optimizerTestParameter([1, 2])
        let adam = Adam(parameters: [("p", p)])
        p.grad = Tensor.ones([2])
        adam.step()
        var tensors = adam.stateTensors()
        tensors["adam.v.p"] = nil

        XCTAssertThrowsError(try adam.restoreState(tensors: tensors, metadata: adam.stateMetadata())) { error in
            guard case TensorCoreError.missingParameter(let message) = error else {
                return XCTFail("expected missingParameter, got \(error)")
            }
            XCTAssertTrue(message.contains("adam.v.p"), message)
        }
    }

    func testRestoreRejectsMetadataWithoutTensors() {
        let p = optimizerTestParameter([1, 2])
        let adam = Adam(parameters: [("p", p)])
        p.grad = Tensor.ones([2])
        adam.step()

        XCTAssertThrowsError(try Adam(parameters: [("p", p)]).restoreState(tensors: [:], metadata: adam.stateMetadata())) { error in
            guard case TensorCoreError.invalidState = error else {
                return XCTFail("expected invalidState, got \(error)")
            }
        }
    }

    func testRestoreIgnoresModelWeightsInSameDictionary() throws {
        let p = optimizerTestParameter([1, 2])
        let adam = Adam(parameters: [("p", p)])
        p.grad = Tensor.ones([2])
        adam.step()
        var checkpoint = adam.stateTensors()
        checkpoint["p"] = Tensor(shape: [2], data: p.data)
        var metadata = adam.stateMetadata()
        metadata["format"] = "hyperfield"

        let fresh = Adam(parameters: [("p", p)])
        try fresh.restoreState(tensors: checkpoint, metadata: metadata)

        XCTAssertEqual(fresh.stepCount, 1)
        XCTAssertEqual(fresh.stateTensors()["adam.m.p"]!.data, adam.stateTensors()["adam.m.p"]!.data)
    }
}
