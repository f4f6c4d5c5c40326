import CBLAS

/// Eigenvalues and eigenvectors of a real symmetric matrix.
public struct SymmetricEigenDecomposition: Sendable {
    /// Eigenvalues in descending order.
    public let values: [Double]
    /// Eigenvectors as the rows of an `[n, n]` row-major matrix, row `i`
    /// belonging to `values[i]`, each of unit length.
    public let vectors: [Double]
    public let size: Int

    /// Decomposes the symmetric `[n, n]` row-major `matrix` with LAPACK's
    /// divide-and-conquer solver (`dsyevd`). Only the lower triangle is read.
    ///
    /// - Throws: `TensorCoreError.invalidState` when the solver does not
    ///   converge or the matrix contains a value that is not finite.
    public init(symmetric matrix: [Double], size n: Int) throws {
        precondition(n >= 1 && matrix.count == n * n, "SymmetricEigenDecomposition: need an [\(n), \(n)] matrix, got \(matrix.count) values")
        guard matrix.allSatisfy(\.isFinite) else {
            throw TensorCoreError.invalidState("eigendecomposition failed: the matrix contains NaN or an infinite value; check the data it was computed from")
        }

        // LAPACK reads column-major, so the lower triangle of the row-major
        // matrix is the upper triangle of the column-major one.
        var a = matrix
        var values = [Double](repeating: 0, count: n)
        var order = Int32(n)
        var info: Int32 = 0
        var workQuery = 0.0
        var iworkQuery: Int32 = 0
        // A length of -1 requests only the workspace sizes from LAPACK.
        var workQueryLength: Int32 = -1
        var iworkQueryLength: Int32 = -1

        "V".withCString { jobz in
            "U".withCString { uplo in
                dsyevd_(jobz, uplo, &order, &a, &order, &values, &workQuery, &workQueryLength, &iworkQuery, &iworkQueryLength, &info, 1, 1)
            }
        }
        guard info == 0 else {
            throw TensorCoreError.invalidState("eigendecomposition failed: the LAPACK workspace query returned code \(info)")
        }

        var workCount = Int32(workQuery.rounded(.up))
        var iworkCount = iworkQuery
        var work = [Double](repeating: 0, count: Int(workCount))
        var iwork = [Int32](repeating: 0, count: Int(iworkCount))
        "V".withCString { jobz in
            "U".withCString { uplo in
                dsyevd_(jobz, uplo, &order, &a, &order, &values, &work, &workCount, &iwork, &iworkCount, &info, 1, 1)
            }
        }
        guard info == 0 else {
            throw TensorCoreError.invalidState("eigendecomposition of a \(n)x\(n) matrix did not converge (LAPACK code \(info))")
        }

        // LAPACK returns ascending values with the vectors as columns of a
        // column-major matrix, that is as rows of `a` read row-major.
        var sortedVectors = [Double](repeating: 0, count: n * n)
        for row in 0..<n {
            let source = n - 1 - row
            for column in 0..<n { sortedVectors[row * n + column] = a[source * n + column] }
        }
        self.values = values.reversed()
        self.vectors = sortedVectors
        self.size = n
    }
}
