import TensorCore
import XCTest

final class SymmetricEigenTests: XCTestCase {
    func testPairsSatisfyEigenEquation() throws {
        // A random symmetric 7x7 matrix.
        var rng = SeededGenerator(seed: 12)
        let n = 7
        var matrix = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                let value = Double(rng.normal())
                matrix[i * n + j] = value
                matrix[j * n + i] = value
            }
        }

        let decomposition = try SymmetricEigenDecomposition(symmetric: matrix, size: n)

        XCTAssertEqual(decomposition.values, decomposition.values.sorted(by: >), "descending order")
        for k in 0..<n {
            let vector = Array(decomposition.vectors[(k * n)..<((k + 1) * n)])
            // A v = lambda v.
            for i in 0..<n {
                let product = (0..<n).reduce(0.0) { $0 + matrix[i * n + $1] * vector[$1] }
                XCTAssertEqual(product, decomposition.values[k] * vector[i], accuracy: 1e-9, "pair \(k), row \(i)")
            }
            // Orthonormal rows.
            for other in 0..<n {
                let dot = (0..<n).reduce(0.0) { $0 + vector[$1] * decomposition.vectors[other * n + $1] }
                XCTAssertEqual(dot, k == other ? 1 : 0, accuracy: 1e-9, "rows \(k) and \(other)")
            }
        }
    }

    func testKnownEigenvalues() throws {
        // [[2, 1], [1, 2]] has eigenvalues 3 and 1.
        let decomposition = try SymmetricEigenDecomposition(symmetric: [2, 1, 1, 2], size: 2)
        XCTAssertEqual(decomposition.values[0], 3, accuracy: 1e-12)
        XCTAssertEqual(decomposition.values[1], 1, accuracy: 1e-12)
        XCTAssertEqual(abs(decomposition.vectors[0]), 0.5.squareRoot(), accuracy: 1e-12)
    }

    func testNonFiniteMatrixIsAnError() {
        XCTAssertThrowsError(try SymmetricEigenDecomposition(symmetric: [1, .nan, .nan, 1], size: 2))
    }
}
