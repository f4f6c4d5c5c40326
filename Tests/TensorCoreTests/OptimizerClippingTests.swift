import XCTest
@testable import TensorCore

final class OptimizerClippingTests: XCTestCase {
    func testClippingScalesToMaxNorm() {
        let a = optimizerTestParameter([0, 0])
        let b = optimizerTestParameter([0])
        a.grad = Tensor(shape: [2], data: [3, 4])
        b.grad = Tensor(shape: [1], data: [12])

        // Global norm sqrt(9 + 16 + 144) = 13; the maximum 6.5 halves it.
        let norm = clipGradientNorm([("a", a), ("b", b)], maxNorm: 6.5)

        XCTAssertEqual(norm, 13)
        XCTAssertEqual(a.grad!.data, [1.5, 2])
        XCTAssertEqual(b.grad!.data, [6])
        XCTAssertEqual(globalGradientNorm([a, b]), 6.5)
    }

    func testClippingLeavesSmallGradientsUnchanged() {
        let a = optimizerTestParameter([0, 0, 0])
        let values: [Float] = [0.1, -0.2, 0.3]
        a.grad = Tensor(shape: [3], data: values)

        let norm = clipGradientNorm([a], maxNorm: 1)

        XCTAssertEqual(norm, (0.01 + 0.04 + 0.09 as Float).squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(a.grad!.data, values)
    }

    func testClippingCountsNilGradientsAsZero() {
        let a = optimizerTestParameter([0, 0])
        let b = optimizerTestParameter([0])
        a.grad = Tensor(shape: [2], data: [6, 8])

        let norm = clipGradientNorm([a, b], maxNorm: 5)

        XCTAssertEqual(norm, 10)
        XCTAssertEqual(a.grad!.data, [3, 4])
        XCTAssertNil(b.grad)
    }

    func testClippingLeavesNonFiniteGradientsUnchanged() {
        let a = optimizerTestParameter([0, 0])
        a.grad = Tensor(shape: [2], data: [.infinity, 1])

        let norm = clipGradientNorm([a], maxNorm: 1)

        XCTAssertFalse(norm.isFinite)
        XCTAssertEqual(a.grad!.data, [.infinity, 1])
    }

    func testClippingLargeTensorMatchesDoubleNorm() {
        // Larger than the parallel grain and not a multiple of the block or
        // SIMD width, so the chunked, vectorized sum and its tail both run.
        var generator = SeededGenerator(seed: 11)
        let count = 300_007
        let grad = generator.normalTensor([count])
        let a = optimizerTestParameter([Float](repeating: 0, count: count))
        a.grad = grad
        let reference = grad.data.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()

        let norm = clipGradientNorm([a], maxNorm: 10)

        XCTAssertEqual(Double(norm), reference, accuracy: reference * 1e-6)
        let clipped = a.grad!.data.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertEqual(clipped, 10, accuracy: 1e-4)
    }
}
