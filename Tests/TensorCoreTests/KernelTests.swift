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

    /// Products over an empty inner axis are empty sums, so they are zero,
    /// even though output buffers are no longer zeroed before the product.
    func testEmptyInnerAxisGivesZeros() {
        for _ in 0..<3 {
            // Leave NaN in freed memory that the next arrays may reuse.
            var poison = [Float](repeating: .nan, count: 12)
            poison[0] = .nan
            _ = poison
            let product = Tensor(shape: [3, 0], data: []).matmul(Tensor(shape: [0, 4], data: []))
            XCTAssertEqual(product.shape, [3, 4])
            XCTAssertEqual(product.data, [Float](repeating: 0, count: 12))
            let batched = Tensor(shape: [2, 3, 0], data: []).matmul(Tensor(shape: [2, 0, 2], data: []))
            XCTAssertEqual(batched.data, [Float](repeating: 0, count: 12))
            let mapped = Tensor(shape: [4, 0], data: []).linear(weight: Tensor(shape: [3, 0], data: []), bias: nil)
            XCTAssertEqual(mapped.data, [Float](repeating: 0, count: 12))
        }
    }

    func testGeluNearExactForm() {
        let values = stride(from: -6.0, through: 6.0, by: 0.25).map { Float($0) }
        let output = Tensor(shape: [values.count], data: values).gelu().data
        for (x, y) in zip(values, output) {
            let exact = Double(x) * 0.5 * (1 + erf(Double(x) / 2.0.squareRoot()))
            XCTAssertEqual(Double(y), exact, accuracy: 1e-3, "gelu(\(x))")
        }
    }

    /// Without gradients the convolution runs a few samples at a time; the
    /// batch here is large enough to take three blocks.
    func testInferenceConvolutionMatchesRecorded() {
        var rng = SeededGenerator(seed: 8)
        let x = rng.normalTensor([32, 8, 16, 16]), weight = rng.normalTensor([5, 8, 3, 3]), bias = rng.normalTensor([5])
        XCTAssertGreaterThan(x.shape[0] * 8 * 9 * 16 * 16, 2 * convolutionChunkElements)
        for (stride, withBias) in [(1, true), (2, false)] {
            let recorded = x.conv2d(weight: weight, bias: withBias ? bias : nil, stride: stride, padding: 1)
            let inferred = GradMode.withoutGradients {
                x.conv2d(weight: weight, bias: withBias ? bias : nil, stride: stride, padding: 1)
            }
            XCTAssertEqual(inferred.shape, recorded.shape)
            let worst = zip(inferred.data, recorded.data).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-4, "stride \(stride)")
        }
    }

    func testConvolutionMatchesDirectSum() {
        assertConvolutionMatchesDirectSum(height: 7, width: 6, kernel: 3, stride: 2, padding: 1)
    }

    /// Size-keeping convolutions take the shifted-plane path of im2col.
    func testSizeKeepingConvolutionDirectSum() {
        assertConvolutionMatchesDirectSum(height: 7, width: 6, kernel: 3, stride: 1, padding: 1)
        assertConvolutionMatchesDirectSum(height: 4, width: 9, kernel: 5, stride: 1, padding: 2)
        assertConvolutionMatchesDirectSum(height: 2, width: 3, kernel: 5, stride: 1, padding: 2)
    }

    private func assertConvolutionMatchesDirectSum(
        height: Int, width: Int, kernel: Int, stride: Int, padding: Int, file: StaticString = #filePath, line: UInt = #line
    ) {
        var rng = SeededGenerator(seed: 6)
        let x = rng.normalTensor([2, 3, height, width]), weight = rng.normalTensor([4, 3, kernel, kernel])
        let bias = rng.normalTensor([4])
        let y = x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
        let outHeight = (height + 2 * padding - kernel) / stride + 1
        let outWidth = (width + 2 * padding - kernel) / stride + 1
        XCTAssertEqual(y.shape, [2, 4, outHeight, outWidth], file: file, line: line)
        var worst: Float = 0
        for n in 0..<2 {
            for o in 0..<4 {
                for oy in 0..<outHeight {
                    for ox in 0..<outWidth {
                        var sum = bias.data[o]
                        for c in 0..<3 {
                            for ky in 0..<kernel {
                                for kx in 0..<kernel {
                                    let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                                    if iy < 0 || iy >= height || ix < 0 || ix >= width { continue }
                                    sum += x.data[((n * 3 + c) * height + iy) * width + ix]
                                        * weight.data[((o * 3 + c) * kernel + ky) * kernel + kx]
                                }
                            }
                        }
                        worst = max(worst, abs(sum - y.data[((n * 4 + o) * outHeight + oy) * outWidth + ox]))
                    }
                }
            }
        }
        XCTAssertLessThan(worst, 1e-4, "kernel \(kernel), stride \(stride), \(height)x\(width)", file: file, line: line)
    }
}
