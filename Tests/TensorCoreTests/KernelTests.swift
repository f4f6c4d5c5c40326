import Foundation
import XCTest
@testable import TensorCore

final class KernelTests: XCTestCase {
    func testFastExpMatchesLibm() {
        var worst: Double = 0
        for step in 0...20_000 {
            let x = -80 + Float(step) * 0.0084
            let relative = abs(Double(fastExp(x)) - Foundation.exp(Double(x))) / Foundation.exp(Double(x))
            worst = max(worst, relative)
        }
        XCTAssertLessThan(worst, 5e-7, "largest relative error of fastExp over [-80, 88]")
    }

    func testFastExpEdgeValues() {
        XCTAssertTrue(fastExp(.nan).isNaN)
        XCTAssertEqual(fastExp(0), 1)
        XCTAssertLessThan(fastExp(-1000), 1e-37)
        XCTAssertGreaterThan(fastExp(1000), 1e38)
        XCTAssertTrue(fastExp(1000).isFinite)
    }

    func testSplitMatmulEqualsNaiveProduct() {
        // Large enough for gemmStrided to split the product across threads.
        var rng = SeededGenerator(seed: 4)
        let m = 150, k = 130, n = 170
        let a = rng.normalTensor([m, k]), b = rng.normalTensor([k, n])
        let product = a.matmul(b)
        var worst: Float = 0
        for i in 0..<m {
            for j in 0..<n {
                var expected = 0.0
                for e in 0..<k { expected += Double(a.data[i * k + e]) * Double(b.data[e * n + j]) }
                worst = max(worst, abs(product.data[i * n + j] - Float(expected)))
            }
        }
        XCTAssertLessThan(worst, 1e-3)
    }

    func testSplitMatmulTransposedOperands() {
        // Columns split (m small) with transposed B, through the linear op.
        var rng = SeededGenerator(seed: 5)
        let x = rng.normalTensor([20, 300]), weight = rng.normalTensor([700, 300])
        let y = x.linear(weight: weight, bias: nil)
        let reference = x.matmul(weight.transposedLastTwo())
        XCTAssertEqual(y.shape, [20, 700])
        for (got, expected) in zip(y.data, reference.data) { XCTAssertEqual(got, expected, accuracy: 1e-3) }
    }

    func testConvolutionMatchesDirectSum() {
        var rng = SeededGenerator(seed: 6)
        let x = rng.normalTensor([2, 3, 7, 6]), weight = rng.normalTensor([4, 3, 3, 3]), bias = rng.normalTensor([4])
        let y = x.conv2d(weight: weight, bias: bias, stride: 2, padding: 1)
        XCTAssertEqual(y.shape, [2, 4, 4, 3])
        var worst: Float = 0
        for n in 0..<2 {
            for o in 0..<4 {
                for oy in 0..<4 {
                    for ox in 0..<3 {
                        var sum = bias.data[o]
                        for c in 0..<3 {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx
                                    if iy < 0 || iy >= 7 || ix < 0 || ix >= 6 { continue }
                                    sum += x.data[((n * 3 + c) * 7 + iy) * 6 + ix] * weight.data[((o * 3 + c) * 3 + ky) * 3 + kx]
                                }
                            }
                        }
                        worst = max(worst, abs(sum - y.data[((n * 4 + o) * 4 + oy) * 3 + ox]))
                    }
                }
            }
        }
        XCTAssertLessThan(worst, 1e-4)
    }
}
