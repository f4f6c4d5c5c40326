import Diffusion
import Foundation
import TensorCore
import XCTest
@testable import Personalization

final class AdapterExportRankTests: XCTestCase {
    private func randomWeights(out: Int, inFeatures: Int, rank: Int, alpha: Float, seed: UInt64, kernel: Int = 1) -> LoRAWeights {
        var rng = SeededGenerator(seed: seed)
        let aShape = kernel == 1 ? [rank, inFeatures] : [rank, inFeatures, kernel, kernel]
        let bShape = kernel == 1 ? [out, rank] : [out, rank, 1, 1]
        return LoRAWeights(a: rng.normalTensor(aShape), b: rng.normalTensor(bShape), alpha: alpha)
    }

    private func relativeDistance(_ left: [Double], _ right: [Double]) -> Double {
        let difference = zip(left, right).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        let norm = left.reduce(0.0) { $0 + $1 * $1 }
        return (difference / norm).squareRoot()
    }

    func testTruncationToFullRankIsExact() throws {
        let base = makeTinyDenoiser(convolutionSlots: true)
        let adapter = makeRandomAdapter(for: base.slots, rank: 4, alpha: 4, seed: 31)
        var settings = AdapterExportSettings()
        settings.rank = 4
        let prepared = try AdapterExport.prepare(adapter, settings: settings)
        for name in adapter.slotNames {
            XCTAssertEqual(prepared.adapter.slots[name]?.a.data, adapter.slots[name]!.a.data, "A of \(name)")
            XCTAssertEqual(prepared.adapter.slots[name]?.b.data, adapter.slots[name]!.b.data, "B of \(name)")
        }
        XCTAssertTrue(prepared.slots.allSatisfy { $0.relativeError == 0 })
        XCTAssertTrue(prepared.slots.allSatisfy { $0.rank == 4 })
        XCTAssertEqual(denoiserOutput(base, adapter: prepared.adapter), denoiserOutput(base, adapter: adapter))
    }

    func testSVDFactorsReproduceFullRankProduct() {
        // Refactoring at the full rank through QR and Jacobi gives the same update.
        let cases = [(out: 16, inFeatures: 8, rank: 4, kernel: 1), (out: 8, inFeatures: 4, rank: 4, kernel: 3),
                     (out: 3, inFeatures: 10, rank: 5, kernel: 1)]
        for (index, shape) in cases.enumerated() {
            let weights = randomWeights(out: shape.out, inFeatures: shape.inFeatures, rank: shape.rank, alpha: 2, seed: 32 + UInt64(index), kernel: shape.kernel)
            let (u, singularValues, v) = productSVD(weights.upMatrix, weights.downMatrix)
            let rebuilt = LoRAWeights.fromSVD(
                u: u, singularValues: singularValues, v: v, rank: shape.rank, alpha: 2,
                aShape: weights.a.shape, bShape: weights.b.shape)
            XCTAssertEqual(rebuilt.a.shape, weights.a.shape, "case \(index)")
            XCTAssertEqual(rebuilt.b.shape, weights.b.shape, "case \(index)")
            XCTAssertLessThan(relativeDistance(slotUpdate(weights), slotUpdate(rebuilt)), 1e-6, "case \(index)")
        }
    }

    func testTruncationErrorMatchesMeasuredError() {
        let weights = randomWeights(out: 12, inFeatures: 9, rank: 4, alpha: 8, seed: 35)
        let truncation = weights.truncated(toRank: 2)

        XCTAssertEqual(truncation.weights.rank, 2)
        XCTAssertEqual(truncation.weights.a.shape, [2, 9])
        XCTAssertEqual(truncation.weights.b.shape, [12, 2])
        XCTAssertEqual(truncation.weights.scale, weights.scale, "alpha / r must stay the same")
        let measured = relativeDistance(slotUpdate(weights), slotUpdate(truncation.weights))
        XCTAssertEqual(Double(truncation.relativeError), measured, accuracy: 1e-5)
        XCTAssertGreaterThan(truncation.relativeError, 0.01)
        XCTAssertEqual(truncation.singularValues.count, 4)
        XCTAssertEqual(truncation.singularValues, truncation.singularValues.sorted(by: >))
    }

    func testTruncationIsBestLowRankApproximation() {
        // The Eckart–Young optimum: no random rank-2 factorization built from
        // the product does better than the SVD truncation.
        let weights = randomWeights(out: 10, inFeatures: 7, rank: 4, alpha: 4, seed: 36)
        let truncation = weights.truncated(toRank: 2)
        let full = slotUpdate(weights)
        let best = relativeDistance(full, slotUpdate(truncation.weights))
        var rng = SeededGenerator(seed: 37)
        for trial in 0..<20 {
            // Rank-2 candidates: B·P·Pᵀ·A for random 4×2 projections P.
            let projection = rng.normalTensor([4, 2])
            var candidateUp = [Float](repeating: 0, count: 10 * 2)
            for row in 0..<10 { for column in 0..<2 { for inner in 0..<4 {
                candidateUp[row * 2 + column] += weights.b.data[row * 4 + inner] * projection.data[inner * 2 + column]
            } } }
            var candidateDown = [Float](repeating: 0, count: 2 * 7)
            for row in 0..<2 { for column in 0..<7 { for inner in 0..<4 {
                candidateDown[row * 7 + column] += projection.data[inner * 2 + row] * weights.a.data[inner * 7 + column]
            } } }
            let candidate = LoRAWeights(a: Tensor(shape: [2, 7], data: candidateDown), b: Tensor(shape: [10, 2], data: candidateUp), alpha: 2)
            // Best multiple of the candidate, so only its subspace counts.
            let update = slotUpdate(candidate)
            let factor = zip(update, full).reduce(0.0) { $0 + $1.0 * $1.1 } / update.reduce(0.0) { $0 + $1 * $1 }
            XCTAssertGreaterThanOrEqual(relativeDistance(full, update.map { $0 * factor }), best - 1e-9, "trial \(trial)")
        }
    }

    func testTruncationOfConvolutionSlotKeepsKernelShape() {
        let weights = randomWeights(out: 8, inFeatures: 4, rank: 4, alpha: 4, seed: 38, kernel: 3)
        let truncation = weights.truncated(toRank: 1)
        XCTAssertEqual(truncation.weights.a.shape, [1, 4, 3, 3])
        XCTAssertEqual(truncation.weights.b.shape, [8, 1, 1, 1])
        XCTAssertEqual(truncation.weights.alpha, 1)
    }

    func testTruncationOfZeroUpdateHasNoError() {
        var weights = randomWeights(out: 6, inFeatures: 5, rank: 3, alpha: 3, seed: 39)
        weights.b = Tensor.zeros([6, 3])
        let truncation = weights.truncated(toRank: 1)
        XCTAssertEqual(truncation.relativeError, 0)
        XCTAssertTrue(truncation.weights.b.data.allSatisfy { $0 == 0 })
        XCTAssertTrue(truncation.weights.a.data.allSatisfy(\.isFinite))
    }

    func testExportReportsErrorPerSlot() throws {
        let adapter = makeRandomAdapter(for: makeTinyDenoiser().slots, rank: 4, alpha: 4, seed: 40)
        var settings = AdapterExportSettings()
        settings.rank = 2
        let prepared = try AdapterExport.prepare(adapter, settings: settings)
        XCTAssertEqual(prepared.slots.count, adapter.slots.count)
        for report in prepared.slots {
            XCTAssertEqual(report.sourceRank, 4)
            XCTAssertEqual(report.rank, 2)
            XCTAssertEqual(report.alpha, 2)
            let measured = relativeDistance(slotUpdate(adapter.slots[report.slot]!), slotUpdate(prepared.adapter.slots[report.slot]!))
            XCTAssertEqual(Double(report.relativeError), measured, accuracy: 1e-5, report.slot)
        }
    }

    func testMatrixSVDOfWideAndTallMatrices() {
        var rng = SeededGenerator(seed: 41)
        for (rows, columns) in [(5, 12), (12, 5), (6, 6)] {
            let matrix = DenseMatrix(rows: rows, columns: columns, floats: rng.normalTensor([rows, columns]).data)
            let (u, singularValues, v) = matrixSVD(matrix)
            var rebuilt = DenseMatrix.zeros(rows: rows, columns: columns)
            for row in 0..<rows { for column in 0..<columns { for index in singularValues.indices {
                rebuilt[row, column] += u[row, index] * singularValues[index] * v[column, index]
            } } }
            XCTAssertLessThan(relativeDistance(matrix.values, rebuilt.values), 1e-12, "\(rows) x \(columns)")
            let gram = u.transposed.multiplied(by: u)
            for index in 0..<min(rows, columns) {
                XCTAssertEqual(gram[index, index], 1, accuracy: 1e-12, "\(rows) x \(columns): column \(index) of U")
            }
        }
    }
}
