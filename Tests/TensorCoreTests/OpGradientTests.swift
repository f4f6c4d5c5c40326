import TestSupport
import XCTest
@testable import TensorCore

/// Finite-difference gradient checks, one per op.
final class OpGradientTests: XCTestCase {
    func testMatmul() {
        assertGradientsMatch("matmul", [randomTensor([3, 4], seed: 1), randomTensor([4, 5], seed: 2)]) {
            $0[0].matmul($0[1])
        }
    }

    func testBatchedMatmul() {
        assertGradientsMatch("batched matmul", [randomTensor([2, 3, 4], seed: 3), randomTensor([2, 4, 2], seed: 4)]) {
            $0[0].matmul($0[1])
        }
    }

    func testLinear() {
        assertGradientsMatch(
            "linear", [randomTensor([2, 3, 4], seed: 5), randomTensor([6, 4], seed: 6), randomTensor([6], seed: 7)]
        ) { $0[0].linear(weight: $0[1], bias: $0[2]) }
    }

    func testConv2dKernel3Stride1() {
        assertGradientsMatch(
            "conv2d k3 s1 p1",
            [randomTensor([2, 3, 5, 5], seed: 8), randomTensor([4, 3, 3, 3], seed: 9), randomTensor([4], seed: 10)]
        ) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 1, padding: 1) }
    }

    func testConv2dNonSquareSizeKeeping() {
        assertGradientsMatch(
            "conv2d k3 s1 p1 4x6",
            [randomTensor([2, 2, 4, 6], seed: 21), randomTensor([3, 2, 3, 3], seed: 22), randomTensor([3], seed: 23)]
        ) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 1, padding: 1) }
        assertGradientsMatch(
            "conv2d k5 s1 p2 3x5",
            [randomTensor([1, 2, 3, 5], seed: 24), randomTensor([2, 2, 5, 5], seed: 25), randomTensor([2], seed: 26)]
        ) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 1, padding: 2) }
    }

    func testConv2dKernel3Stride2() {
        assertGradientsMatch(
            "conv2d k3 s2 p1",
            [randomTensor([2, 2, 6, 6], seed: 11), randomTensor([3, 2, 3, 3], seed: 12), randomTensor([3], seed: 13)]
        ) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 2, padding: 1) }
    }

    func testConv2dKernel3NoPadding() {
        assertGradientsMatch(
            "conv2d k3 s1 p0", [randomTensor([1, 2, 5, 4], seed: 14), randomTensor([2, 2, 3, 3], seed: 15)]
        ) { $0[0].conv2d(weight: $0[1], bias: nil, stride: 1, padding: 0) }
    }

    func testConv2dKernel1() {
        assertGradientsMatch(
            "conv2d k1",
            [randomTensor([2, 3, 4, 4], seed: 16), randomTensor([5, 3, 1, 1], seed: 17), randomTensor([5], seed: 18)]
        ) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 1, padding: 0) }
    }

    func testConv2dKernel1Stride2() {
        assertGradientsMatch(
            "conv2d k1 s2", [randomTensor([1, 2, 4, 4], seed: 19), randomTensor([3, 2, 1, 1], seed: 20)]
        ) { $0[0].conv2d(weight: $0[1], bias: nil, stride: 2, padding: 0) }
    }

    func testUpsampleNearest2x() {
        assertGradientsMatch("upsample", [randomTensor([2, 2, 3, 3], seed: 21)]) { $0[0].upsampleNearest2x() }
    }

    func testAvgPool() {
        assertGradientsMatch("avg pool", [randomTensor([2, 2, 4, 6], seed: 22)]) { $0[0].avgPool2d(kernel: 2) }
    }

    func testGroupNorm() {
        assertGradientsMatch(
            "group norm",
            [randomTensor([2, 6, 3, 3], seed: 23), randomTensor([6], seed: 24), randomTensor([6], seed: 25)]
        ) { $0[0].groupNorm(groups: 3, weight: $0[1], bias: $0[2]) }
    }

    func testGroupNormSiLU() {
        // 15 elements per channel: the eight-lane sums and their tail.
        assertGradientsMatch(
            "group norm + SiLU",
            [randomTensor([2, 4, 3, 5], seed: 55), randomTensor([4], seed: 56), randomTensor([4], seed: 57)]
        ) { $0[0].groupNormSiLU(groups: 2, weight: $0[1], bias: $0[2]) }
    }

    func testFusedGroupNormSiLUMatchesOps() {
        let x = randomTensor([3, 8, 4, 5], seed: 58)
        x.data = x.data.map { $0 + 20 }  // a large mean, as in unnormalized activations
        let weight = randomTensor([8], seed: 59), bias = randomTensor([8], seed: 60)
        let seed = randomTensor([3, 8, 4, 5], seed: 61)
        func gradients(_ body: (Tensor, Tensor, Tensor) -> Tensor) -> [[Float]] {
            let inputs = [x, weight, bias].map { Tensor(shape: $0.shape, data: $0.data, requiresGrad: true) }
            let output = body(inputs[0], inputs[1], inputs[2])
            output.backward(seed: seed)
            return [output.data] + inputs.map { $0.grad!.data }
        }
        let fused = gradients { $0.groupNormSiLU(groups: 4, weight: $1, bias: $2) }
        let separate = gradients { $0.groupNorm(groups: 4, weight: $1, bias: $2).silu() }
        for (name, (a, b)) in zip(["output", "input gradient", "weight gradient", "bias gradient"], zip(fused, separate)) {
            let scale = max(b.map { abs($0) }.max() ?? 0, 1e-6)
            let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst / scale, 1e-4, name)
        }
    }

    func testLayerNorm() {
        assertGradientsMatch(
            "layer norm", [randomTensor([3, 2, 5], seed: 26), randomTensor([5], seed: 27), randomTensor([5], seed: 28)]
        ) { $0[0].layerNorm(weight: $0[1], bias: $0[2]) }
    }

    func testSiLU() {
        assertGradientsMatch("silu", [randomTensor([4, 5], seed: 29, scale: 2)]) { $0[0].silu() }
    }

    func testGELU() {
        assertGradientsMatch("gelu", [randomTensor([4, 5], seed: 30, scale: 2)]) { $0[0].gelu() }
    }

    func testSigmoid() {
        assertGradientsMatch("sigmoid", [randomTensor([4, 5], seed: 31, scale: 2)]) { $0[0].sigmoid() }
    }

    func testSoftmax() {
        assertGradientsMatch("softmax", [randomTensor([3, 7], seed: 32, scale: 2)]) { $0[0].softmax() }
    }

    func testAttentionSelf() {
        assertGradientsMatch(
            "attention self",
            [randomTensor([2, 5, 8], seed: 33), randomTensor([2, 5, 8], seed: 34), randomTensor([2, 5, 8], seed: 35)]
        ) { Tensor.attention(query: $0[0], key: $0[1], value: $0[2], heads: 2) }
    }

    func testAttentionCross() {
        assertGradientsMatch(
            "attention cross",
            [randomTensor([2, 4, 6], seed: 36), randomTensor([2, 3, 6], seed: 37), randomTensor([2, 3, 6], seed: 38)]
        ) { Tensor.attention(query: $0[0], key: $0[1], value: $0[2], heads: 3) }
    }

    func testAddBroadcast() {
        assertGradientsMatch("add", [randomTensor([2, 3, 4], seed: 39), randomTensor([3, 1], seed: 40)]) { $0[0] + $0[1] }
    }

    func testSubBroadcast() {
        assertGradientsMatch("sub", [randomTensor([2, 1, 4], seed: 41), randomTensor([3, 4], seed: 42)]) { $0[0] - $0[1] }
    }

    func testMulBroadcast() {
        assertGradientsMatch("mul", [randomTensor([2, 3, 4], seed: 43), randomTensor([1, 3, 1], seed: 44)]) { $0[0] * $0[1] }
    }

    func testSameShapeAndLeftBroadcast() {
        assertGradientsMatch("add same shape", [randomTensor([2, 3], seed: 47), randomTensor([2, 3], seed: 48)]) { $0[0] + $0[1] }
        assertGradientsMatch("sub left broadcast", [randomTensor([3, 1], seed: 49), randomTensor([2, 3, 4], seed: 50)]) { $0[0] - $0[1] }
        assertGradientsMatch("mul same shape", [randomTensor([4, 5], seed: 51), randomTensor([4, 5], seed: 52)]) { $0[0] * $0[1] }
        assertGradientsMatch("mul scalar-like", [randomTensor([1], seed: 53), randomTensor([2, 3], seed: 54)]) { $0[0] * $0[1] }
    }

    func testDivBroadcast() {
        let denominator = randomTensor([4], seed: 45)
        denominator.data = denominator.data.map { $0 > 0 ? $0 + 1 : $0 - 1 }
        assertGradientsMatch("div", [randomTensor([3, 4], seed: 46), denominator]) { $0[0] / $0[1] }
    }

    func testScalarOps() {
        assertGradientsMatch("scalar ops", [randomTensor([3, 3], seed: 47)]) { (2 * $0[0] + 1) / 4 - 3 }
    }

    func testExp() {
        assertGradientsMatch("exp", [randomTensor([3, 4], seed: 48)]) { $0[0].exp() }
    }

    func testLog() {
        let positive = randomTensor([3, 4], seed: 49)
        positive.data = positive.data.map { abs($0) + 0.5 }
        assertGradientsMatch("log", [positive]) { $0[0].log() }
    }

    func testSqrt() {
        let positive = randomTensor([3, 4], seed: 50)
        positive.data = positive.data.map { abs($0) + 0.5 }
        assertGradientsMatch("sqrt", [positive]) { $0[0].sqrt() }
    }

    func testSin() {
        assertGradientsMatch("sin", [randomTensor([3, 4], seed: 51, scale: 2)]) { $0[0].sin() }
    }

    func testCos() {
        assertGradientsMatch("cos", [randomTensor([3, 4], seed: 52, scale: 2)]) { $0[0].cos() }
    }

    func testSumOverAxes() {
        assertGradientsMatch("sum axes", [randomTensor([2, 3, 4], seed: 53)]) { $0[0].sum(axes: [0, 2]) }
    }

    func testSumKeepDims() {
        assertGradientsMatch("sum keepDims", [randomTensor([2, 3, 4], seed: 54)]) { $0[0].sum(axes: [1], keepDims: true) }
    }

    func testMean() {
        assertGradientsMatch("mean", [randomTensor([2, 3, 4], seed: 55)]) { $0[0].mean(axes: [-1]) }
    }

    func testMeanAll() {
        assertGradientsMatch("mean all", [randomTensor([2, 3], seed: 56)]) { $0[0].mean() }
    }

    func testReshape() {
        assertGradientsMatch("reshape", [randomTensor([2, 6], seed: 57)]) { $0[0].reshaped([3, -1]) * $0[0].reshaped([3, 4]) }
    }

    func testPermute() {
        assertGradientsMatch("permute", [randomTensor([2, 3, 4], seed: 58)]) { $0[0].permuted([2, 0, 1]) }
    }

    func testConcat() {
        assertGradientsMatch("concat", [randomTensor([2, 3], seed: 59), randomTensor([2, 2], seed: 60)]) {
            Tensor.concat([$0[0], $0[1], $0[0]], axis: 1)
        }
    }

    func testSplit() {
        assertGradientsMatch("split", [randomTensor([5, 3], seed: 61)]) {
            let parts = $0[0].split(axis: 0, sizes: [2, 3])
            return parts[0].sum(axes: [0]) * parts[1].sum(axes: [0])
        }
    }

    func testSlice() {
        assertGradientsMatch("slice", [randomTensor([3, 6, 2], seed: 62)]) { $0[0].sliced(axis: 1, 2..<5) }
    }

    func testEmbedding() {
        assertGradientsMatch("embedding", [randomTensor([5, 3], seed: 63)]) { Tensor.embedding(table: $0[0], indices: [4, 0, 4, 2]) }
    }

    func testL1Loss() {
        let target = randomTensor([3, 4], seed: 64)
        let prediction = Tensor(shape: [3, 4], data: target.data.enumerated().map { $0.element + ($0.offset % 2 == 0 ? 0.5 : -0.5) })
        assertGradientsMatch("l1 loss", [prediction, target]) { Tensor.l1Loss($0[0], $0[1]) }
    }

    func testMSELoss() {
        assertGradientsMatch("mse loss", [randomTensor([3, 4], seed: 65), randomTensor([3, 4], seed: 66)]) {
            Tensor.mseLoss($0[0], $0[1])
        }
    }

    func testCrossEntropy() {
        assertGradientsMatch("cross entropy", [randomTensor([4, 5], seed: 67)]) {
            Tensor.crossEntropyLoss(logits: $0[0], targets: [1, 0, 4, 4])
        }
    }

    func testCosineSimilarity() {
        assertGradientsMatch("cosine similarity", [randomTensor([3, 5], seed: 68), randomTensor([3, 5], seed: 69)]) {
            Tensor.cosineSimilarity($0[0], $0[1])
        }
    }

    func testL2Normalized() {
        assertGradientsMatch("l2 normalized", [randomTensor([3, 5], seed: 70)]) { $0[0].l2Normalized() }
    }

    func testSquareAbsClamp() {
        let input = Tensor(shape: [6], data: [-2.1, -1.3, -0.4, 0.3, 1.2, 2.6])
        assertGradientsMatch("square abs clamp", [input]) { $0[0].square() + $0[0].abs() + $0[0].clamped(-1, 1) }
    }
}
