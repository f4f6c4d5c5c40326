/// A small dense matrix of Doubles in row-major order, for the factorizations
/// of rank truncation and merge extraction. Adapter matrices have at most a
/// few thousand columns and a rank of a few dozen, so plain loops suffice.
struct DenseMatrix: Equatable {
    let rows: Int
    let columns: Int
    var values: [Double]

    init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns, "DenseMatrix: \(values.count) values for \(rows) x \(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    init(rows: Int, columns: Int, floats: [Float]) {
        self.init(rows: rows, columns: columns, values: floats.map(Double.init))
    }

    static func zeros(rows: Int, columns: Int) -> DenseMatrix {
        DenseMatrix(rows: rows, columns: columns, values: [Double](repeating: 0, count: rows * columns))
    }

    subscript(row: Int, column: Int) -> Double {
        get { values[row * columns + column] }
        set { values[row * columns + column] = newValue }
    }

    var transposed: DenseMatrix {
        var result = DenseMatrix.zeros(rows: columns, columns: rows)
        for row in 0..<rows {
            for column in 0..<columns { result[column, row] = self[row, column] }
        }
        return result
    }

    /// `self · other`: `[m, k] · [k, n] → [m, n]`.
    func multiplied(by other: DenseMatrix) -> DenseMatrix {
        precondition(columns == other.rows, "DenseMatrix: [\(rows), \(columns)] times [\(other.rows), \(other.columns)]")
        var result = DenseMatrix.zeros(rows: rows, columns: other.columns)
        for row in 0..<rows {
            for inner in 0..<columns {
                let factor = self[row, inner]
                if factor == 0 { continue }
                let otherBase = inner * other.columns
                let resultBase = row * other.columns
                for column in 0..<other.columns {
                    result.values[resultBase + column] += factor * other.values[otherBase + column]
                }
            }
        }
        return result
    }
}

/// Thin QR factorization by Householder reflections: `M [m, n] = Q [m, p] ·
/// R [p, n]` with `p = min(m, n)`, orthonormal columns in `Q` and `R` upper
/// trapezoidal. Rank-deficient input, a zero matrix included, still gives an
/// orthonormal `Q`.
func householderQR(_ matrix: DenseMatrix) -> (q: DenseMatrix, r: DenseMatrix) {
    let (m, n) = (matrix.rows, matrix.columns)
    let p = min(m, n)
    var work = matrix
    // Unit Householder vectors; reflector j acts on rows j..<m.
    var reflectors: [[Double]] = []

    for j in 0..<p {
        // Reflect column j below the diagonal onto its first entry.
        var v = (j..<m).map { work[$0, j] }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let alpha = v[0] >= 0 ? -norm : norm
        v[0] -= alpha
        let vNorm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if vNorm == 0 {
            reflectors.append([])
            continue
        }
        v = v.map { $0 / vNorm }

        // work[j..<m, j..<n] -= 2 v (vᵀ work[j..<m, j..<n])
        for column in j..<n {
            var dot = 0.0
            for (offset, entry) in v.enumerated() { dot += entry * work[j + offset, column] }
            for (offset, entry) in v.enumerated() { work[j + offset, column] -= 2 * entry * dot }
        }
        reflectors.append(v)
    }

    var r = DenseMatrix.zeros(rows: p, columns: n)
    for row in 0..<p {
        for column in row..<n { r[row, column] = work[row, column] }
    }

    // Q = H_0 ⋯ H_{p-1} applied to the first p columns of the identity.
    var q = DenseMatrix.zeros(rows: m, columns: p)
    for index in 0..<p { q[index, index] = 1 }
    for j in stride(from: p - 1, through: 0, by: -1) {
        let v = reflectors[j]
        if v.isEmpty { continue }
        for column in 0..<p {
            var dot = 0.0
            for (offset, entry) in v.enumerated() { dot += entry * q[j + offset, column] }
            for (offset, entry) in v.enumerated() { q[j + offset, column] -= 2 * entry * dot }
        }
    }
    return (q, r)
}

/// Singular value decomposition `M [m, n] = U [m, p] · diag(σ) · Vᵀ` with
/// `V [n, p]`, `p = min(m, n)` and `σ` in decreasing order, by one-sided
/// (Hestenes) Jacobi rotations.
///
/// Jacobi is chosen for accuracy: the tests rebuild random matrices from
/// its factors within 1e-12 relative error. Its cost grows as `m·n²` per
/// sweep, so callers reduce large matrices to a small core by QR first
/// (`productSVD`, `matrixSVD`).
func jacobiSVD(_ matrix: DenseMatrix) -> (u: DenseMatrix, singularValues: [Double], v: DenseMatrix) {
    if matrix.rows < matrix.columns {
        let (u, singularValues, v) = jacobiSVD(matrix.transposed)
        return (v, singularValues, u)
    }
    let (m, n) = (matrix.rows, matrix.columns)
    // Columns of `work` become U·diag(σ); `v` accumulates the rotations.
    var work = matrix
    var v = DenseMatrix.zeros(rows: n, columns: n)
    for index in 0..<n { v[index, index] = 1 }

    let tolerance = 1e-15
    for _ in 0..<80 {
        var rotated = false
        for i in 0..<n {
            for j in (i + 1)..<n {
                var alpha = 0.0, beta = 0.0, gamma = 0.0
                for row in 0..<m {
                    let (x, y) = (work[row, i], work[row, j])
                    alpha += x * x
                    beta += y * y
                    gamma += x * y
                }
                if gamma == 0 || abs(gamma) <= tolerance * (alpha * beta).squareRoot() { continue }
                rotated = true

                // Rotation that makes columns i and j orthogonal.
                let zeta = (beta - alpha) / (2 * gamma)
                let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                let c = 1 / (1 + t * t).squareRoot()
                let s = c * t
                for row in 0..<m {
                    let (x, y) = (work[row, i], work[row, j])
                    work[row, i] = c * x - s * y
                    work[row, j] = s * x + c * y
                }
                for row in 0..<n {
                    let (x, y) = (v[row, i], v[row, j])
                    v[row, i] = c * x - s * y
                    v[row, j] = s * x + c * y
                }
            }
        }
        if !rotated { break }
    }

    // σ_k = ‖column k‖, U's column k = column k / σ_k, sorted by σ.
    let norms = (0..<n).map { column in (0..<m).reduce(0.0) { $0 + work[$1, column] * work[$1, column] }.squareRoot() }
    let order = (0..<n).sorted { norms[$0] > norms[$1] }
    var u = DenseMatrix.zeros(rows: m, columns: n)
    var sortedV = DenseMatrix.zeros(rows: n, columns: n)
    for (target, source) in order.enumerated() {
        let sigma = norms[source]
        for row in 0..<m { u[row, target] = sigma > 0 ? work[row, source] / sigma : 0 }
        for row in 0..<n { sortedV[row, target] = v[row, source] }
    }
    return (u, order.map { norms[$0] }, sortedV)
}

/// SVD of the product `L [m, k] · R [k, n]` through thin QR of both factors:
/// `L·R = Q_L (R_L R_Rᵀ) Q_Rᵀ`, so only the small core `R_L R_Rᵀ` goes
/// through Jacobi. Returns left vectors `[m, q]`, singular values and right
/// vectors `[n, q]` with `q = min(m, k, n)`.
func productSVD(_ left: DenseMatrix, _ right: DenseMatrix) -> (u: DenseMatrix, singularValues: [Double], v: DenseMatrix) {
    precondition(left.columns == right.rows, "productSVD: [\(left.rows), \(left.columns)] times [\(right.rows), \(right.columns)]")
    let (leftQ, leftR) = householderQR(left)
    let (rightQ, rightR) = householderQR(right.transposed)
    let core = leftR.multiplied(by: rightR.transposed)
    let (coreU, singularValues, coreV) = jacobiSVD(core)
    return (leftQ.multiplied(by: coreU), singularValues, rightQ.multiplied(by: coreV))
}

/// SVD of a whole matrix `M [m, n]`, reduced to a `min(m, n)` square core by
/// QR of its taller side first.
func matrixSVD(_ matrix: DenseMatrix) -> (u: DenseMatrix, singularValues: [Double], v: DenseMatrix) {
    if matrix.rows >= matrix.columns {
        // M = Q R, R square: SVD of R gives M's right vectors directly.
        let (q, r) = householderQR(matrix)
        let (coreU, singularValues, v) = jacobiSVD(r)
        return (q.multiplied(by: coreU), singularValues, v)
    }
    let (u, singularValues, v) = matrixSVD(matrix.transposed)
    return (v, singularValues, u)
}
