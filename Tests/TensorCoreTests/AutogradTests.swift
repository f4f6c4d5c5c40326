import XCTest
@testable import TensorCore

final class AutogradTests: XCTestCase {
    func testGradientWithRespectToPlainInput() {
        // The field trainer differentiates a loss with respect to adapter
        // weights it was handed, which belong to no module.
        let weights = Tensor(shape: [2, 2], data: [1, 2, 3, 4], requiresGrad: true)
        let x = Tensor(shape: [1, 2], data: [0.5, -1])
        let loss = x.matmul(weights).square().sum()
        let grads = gradients(of: loss, withRespectTo: [weights])
        // y = x·W = [0.5·1 − 3, 0.5·2 − 4] = [−2.5, −3]; dL/dW = xᵀ · 2y.
        XCTAssertEqual(grads[0].data, [-2.5, -3, 5, 6])
    }

    func testGradientAccumulatesOverReuse() {
        let x = Tensor(shape: [3], data: [1, 2, 3], requiresGrad: true)
        let loss = (x * x + x).sum()
        loss.backward()
        XCTAssertEqual(x.grad?.data, [3, 5, 7])
    }

    func testUnusedTargetGetsZeros() {
        let used = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let unused = Tensor(shape: [3], data: [1, 2, 3], requiresGrad: true)
        let grads = gradients(of: (used * 3).sum(), withRespectTo: [used, unused])
        XCTAssertEqual(grads[0].data, [3, 3])
        XCTAssertEqual(grads[1].data, [0, 0, 0])
    }

    func testNoGradientModeRecordsNothing() {
        let x = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let y = GradMode.withoutGradients { (x * 2).exp() }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.node)
        XCTAssertTrue(GradMode.isEnabled)
    }

    func testDetachStopsGradient() {
        let x = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let loss = (x * x.detached()).sum()
        loss.backward()
        // d/dx (x · stop(x)) = stop(x)
        XCTAssertEqual(x.grad?.data, [1, 2])
    }

    func testFrozenInputGetsNoGradient() {
        let x = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let frozen = Tensor(shape: [2], data: [3, 4])
        (x * frozen).sum().backward()
        XCTAssertNil(frozen.grad)
        XCTAssertEqual(x.grad?.data, [3, 4])
    }

    func testBackwardReleasesTape() {
        let x = Tensor(shape: [2], data: [1, 2], requiresGrad: true)
        let hidden = x * 2
        let loss = hidden.sum()
        loss.backward()
        XCTAssertNil(hidden.node)
        XCTAssertNil(loss.node)
    }

    func testDeepChainDoesNotOverflow() {
        let x = Tensor(shape: [1], data: [1], requiresGrad: true)
        var y = x
        for _ in 0..<20_000 { y = y * 1.0001 }
        y.sum().backward()
        XCTAssertEqual(x.grad!.data[0], pow(1.0001, 20_000), accuracy: 1e-2)
    }
}

final class DeterminismTests: XCTestCase {
    /// Runs one training-like step (random data, convolution, attention,
    /// backward) and returns the loss and gradients.
    private func step(seed: UInt64) -> [Float] {
        var rng = SeededGenerator(seed: seed)
        let conv = Conv2d(8, 16, kernel: 3, rng: &rng)
        let norm = GroupNorm(groups: 4, channels: 16)
        let x = rng.normalTensor([4, 8, 16, 16])
        var h = norm(conv(x)).silu()
        h = h.reshaped([4, 16, 256]).permuted([0, 2, 1])
        let attended = Tensor.attention(query: h, key: h, value: h, heads: 2)
        let loss = Tensor.mseLoss(attended, rng.normalTensor(attended.shape))
        loss.backward()
        return [loss.item] + conv.weight.grad!.data + norm.weight.grad!.data
    }

    func testSameSeedGivesIdenticalBits() {
        let first = step(seed: 7)
        let second = step(seed: 7)
        XCTAssertEqual(first.map { $0.bitPattern }, second.map { $0.bitPattern })
    }

    func testDifferentSeedDiffers() {
        XCTAssertNotEqual(step(seed: 7), step(seed: 8))
    }

    func testGeneratorStateRoundTrip() throws {
        var rng = SeededGenerator(seed: 3)
        _ = rng.normal()
        let saved = rng.savedState
        var restored = try SeededGenerator(savedState: saved)
        XCTAssertEqual((0..<5).map { _ in rng.normal() }, (0..<5).map { _ in restored.normal() })
        XCTAssertEqual(rng.integer(in: 0..<1000), restored.integer(in: 0..<1000))
    }

    func testNormalSamplesHaveUnitVariance() {
        var rng = SeededGenerator(seed: 11)
        let samples = (0..<100_000).map { _ in Double(rng.normal()) }
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(samples.count)
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(variance, 1, accuracy: 0.02)
    }

    func testShuffleIsAPermutation() {
        var rng = SeededGenerator(seed: 5)
        var values = Array(0..<50)
        rng.shuffle(&values)
        XCTAssertNotEqual(values, Array(0..<50))
        XCTAssertEqual(values.sorted(), Array(0..<50))
    }
}

final class ModuleTests: XCTestCase {
    private final class Block: Module {
        let conv1: Conv2d
        let norm: GroupNorm
        init(rng: inout SeededGenerator) {
            conv1 = Conv2d(4, 4, kernel: 3, rng: &rng)
            norm = GroupNorm(groups: 2, channels: 4)
            super.init()
            child("conv1", conv1)
            child("norm", norm)
        }
    }

    private final class Net: Module {
        init(rng: inout SeededGenerator) {
            super.init()
            let down = child("down", Module())
            let stage = down.child("1", Module())
            let res = stage.child("res", Module())
            res.child("0", Block(rng: &rng))
            child("out", Linear(4, 2, rng: &rng))
        }
    }

    func testDottedParameterNames() {
        var rng = SeededGenerator(seed: 1)
        let names = Net(rng: &rng).namedParameters().map { $0.name }
        XCTAssertEqual(names, [
            "down.1.res.0.conv1.weight", "down.1.res.0.conv1.bias",
            "down.1.res.0.norm.weight", "down.1.res.0.norm.bias",
            "out.weight", "out.bias",
        ])
    }

    func testFreezeByPattern() {
        var rng = SeededGenerator(seed: 1)
        let net = Net(rng: &rng)
        XCTAssertEqual(net.setTrainable(false, matching: "down.*"), 4)
        XCTAssertEqual(net.trainableParameters().map { $0.name }, ["out.weight", "out.bias"])
        XCTAssertEqual(net.setTrainable(true, matching: "*.norm.*"), 2)
        XCTAssertEqual(net.trainableParameters().count, 4)
    }

    func testLoadCopiesIntoSameObjects() throws {
        var rng = SeededGenerator(seed: 1)
        let source = Net(rng: &rng)
        let target = Net(rng: &rng)
        let held = target.namedParameters()[0].tensor
        try target.load(Dictionary(uniqueKeysWithValues: source.namedParameters().map { ($0.name, $0.tensor) }))
        XCTAssertTrue(held === target.namedParameters()[0].tensor)
        XCTAssertEqual(held.data, source.namedParameters()[0].tensor.data)
    }

    func testLoadRejectsWrongShapeAndUnknownNames() {
        var rng = SeededGenerator(seed: 1)
        let net = Net(rng: &rng)
        var tensors = Dictionary(uniqueKeysWithValues: net.namedParameters().map { ($0.name, $0.tensor) })
        tensors["out.bias"] = Tensor.zeros([3])
        XCTAssertThrowsError(try net.load(tensors)) { error in
            XCTAssertTrue("\(error)".contains("[2]"), "\(error)")
            XCTAssertTrue("\(error)".contains("[3]"), "\(error)")
        }
        tensors["out.bias"] = Tensor.zeros([2])
        tensors["extra.weight"] = Tensor.zeros([1])
        XCTAssertThrowsError(try net.load(tensors))
        XCTAssertNoThrow(try net.load(tensors, strict: false))
    }

    func testGlobMatching() {
        XCTAssertTrue(globMatches("mid.*", "mid.attn.to_q"))
        XCTAssertTrue(globMatches("*to_?", "down.0.to_k"))
        XCTAssertFalse(globMatches("mid.*", "down.mid.x"))
        XCTAssertTrue(globMatches("*", ""))
        XCTAssertFalse(globMatches("a?c", "ac"))
    }
}
