import Diffusion
import TensorCore

/// A slot's LoRA weights at a lower rank, with how much of the update was lost.
public struct RankTruncation {
    /// Weights at the new rank. Alpha is scaled with the rank, so the factor
    /// alpha / r stays the same.
    public let weights: LoRAWeights
    /// `‖ΔW − ΔW_k‖_F / ‖ΔW‖_F` for the update `ΔW = (alpha / r)·B·A`, or 0
    /// when the update is zero.
    public let relativeError: Float
    /// Singular values of `B·A` (without the alpha / r factor), largest
    /// first.
    public let singularValues: [Float]
}

extension LoRAWeights {
    /// `B` as a matrix `[out, r]`; a convolution's `[out, r, 1, 1]` drops its
    /// 1×1 kernel.
    var upMatrix: DenseMatrix {
        DenseMatrix(rows: b.shape[0], columns: rank, floats: b.data)
    }

    /// `A` as a matrix `[r, in·k·k]`.
    var downMatrix: DenseMatrix {
        DenseMatrix(rows: rank, columns: a.count / rank, floats: a.data)
    }

    /// Computes the update `ΔW = (alpha / r)·B·A` as a matrix
    /// `[out, in·k·k]`, laid out as the base weight `[out, in]` or
    /// `[out, in, k, k]` is.
    func updateMatrix() -> DenseMatrix {
        var product = upMatrix.multiplied(by: downMatrix)
        let factor = Double(scale)
        for index in product.values.indices { product.values[index] *= factor }
        return product
    }

    /// Rebuilds weights of rank `k` from the SVD of `B·A`: `B' = U_k·√Σ_k`,
    /// `A' = √Σ_k·V_kᵀ`, shaped like `a` and `b` at the new rank.
    static func fromSVD(
        u: DenseMatrix, singularValues: [Double], v: DenseMatrix, rank k: Int, alpha: Float,
        aShape: [Int], bShape: [Int]
    ) -> LoRAWeights {
        let (out, inner) = (u.rows, v.rows)
        var up = [Float](repeating: 0, count: out * k)
        var down = [Float](repeating: 0, count: k * inner)
        for index in 0..<min(k, singularValues.count) {
            let root = singularValues[index].squareRoot()
            for row in 0..<out { up[row * k + index] = Float(u[row, index] * root) }
            for column in 0..<inner { down[index * inner + column] = Float(v[column, index] * root) }
        }
        var newAShape = aShape
        newAShape[0] = k
        var newBShape = bShape
        newBShape[1] = k
        return LoRAWeights(
            a: Tensor(shape: newAShape, data: down), b: Tensor(shape: newBShape, data: up), alpha: alpha)
    }

    /// Truncates to rank `k` by SVD of `B·A`, the best rank-`k`
    /// approximation of the update in Frobenius norm.
    ///
    /// At `k` equal to or above the current rank the weights are returned
    /// unchanged with error 0, so truncation to the full rank is exact.
    public func truncated(toRank k: Int) -> RankTruncation {
        precondition(k >= 1, "truncated(toRank:): rank \(k) must be at least 1")
        let (u, singularValues, v) = productSVD(upMatrix, downMatrix)
        let floats = singularValues.map(Float.init)
        if k >= rank {
            return RankTruncation(weights: self, relativeError: 0, singularValues: floats)
        }

        let total = singularValues.reduce(0) { $0 + $1 * $1 }
        let lost = singularValues.dropFirst(k).reduce(0) { $0 + $1 * $1 }
        let relativeError = total > 0 ? Float((lost / total).squareRoot()) : 0
        let weights = LoRAWeights.fromSVD(
            u: u, singularValues: singularValues, v: v, rank: k, alpha: alpha * Float(k) / Float(rank),
            aShape: a.shape, bShape: b.shape)
        return RankTruncation(weights: weights, relativeError: relativeError, singularValues: floats)
    }
}
