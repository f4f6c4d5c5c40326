import CBLAS
import Dispatch

/// `C = alpha * op(A) * op(B) + beta * C` over row-major buffers, where
/// `op(A)` is `[m, k]` and `op(B)` is `[k, n]`.
@inline(__always)
func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
    beta: Float = 0, c: UnsafeMutablePointer<Float>
) {
    if k == 0 {
        if beta == 0 && m * n > 0 { c.update(repeating: 0, count: m * n) }
        return
    }
    gemmStrided(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
        a: a, lda: transposeA ? m : k, b: b, ldb: transposeB ? k : n, beta: beta, c: c, ldc: n)
}

/// Batched GEMM over `batch` consecutive matrices of each operand.
func batchedGemm(
    batch: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: [Float], b: [Float], beta: Float = 0, c: inout [Float]
) {
    a.withUnsafeBufferPointer { aBuffer in
        b.withUnsafeBufferPointer { bBuffer in
            c.withUnsafeMutableBufferPointer { cBuffer in
                guard let cBase = cBuffer.baseAddress else { return }
                guard let aBase = aBuffer.baseAddress, let bBase = bBuffer.baseAddress else {
                    // An empty operand (k = 0): the products are empty sums.
                    if beta == 0 {
                        cBase.update(repeating: 0, count: cBuffer.count)
                    } else {
                        for i in 0..<cBuffer.count { cBase[i] *= beta }
                    }
                    return
                }
                for index in 0..<batch {
                    gemm(
                        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                        a: aBase + index * m * k, b: bBase + index * k * n,
                        beta: beta, c: cBase + index * m * n)
                }
            }
        }
    }
}

extension Tensor {
    /// Matrix product of `[m, k]` and `[k, n]`, or batched product of
    /// `[B, m, k]` and `[B, k, n]` (any number of leading batch axes, equal
    /// in both operands).
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(
            rank >= 2 && other.rank == rank,
            "matmul: shapes \(shape) and \(other.shape) must both have rank 2 or more, and equal rank")
        let batchShape = Array(shape.dropLast(2))
        precondition(
            batchShape == Array(other.shape.dropLast(2)),
            "matmul: batch axes of \(shape) and \(other.shape) differ")
        let m = shape[rank - 2], k = shape[rank - 1], n = other.shape[rank - 1]
        precondition(
            other.shape[rank - 2] == k,
            "matmul: inner extents differ, \(shape) times \(other.shape)")
        let batch = shapeElementCount(batchShape)
        FlopCounter.addProduct(m: m, n: n, k: k, batch: batch)
        var out = unzeroedArray(batch * m * n)
        batchedGemm(batch: batch, transposeA: false, transposeB: false, m: m, n: n, k: k, a: data, b: other.data, c: &out)
        let a = self, b = other
        return Tensor.record("matmul", shape: batchShape + [m, n], data: out, inputs: [a, b]) { outGrad in
            if a.requiresGrad {
                // dA [m, k] = dC [m, n] · Bᵀ
                var grad = unzeroedArray(a.count)
                batchedGemm(batch: batch, transposeA: false, transposeB: true, m: m, n: k, k: n, a: outGrad, b: b.data, c: &grad)
                a.accumulateGrad(grad)
            }
            if b.requiresGrad {
                // dB [k, n] = Aᵀ · dC [m, n]
                var grad = unzeroedArray(b.count)
                batchedGemm(batch: batch, transposeA: true, transposeB: false, m: k, n: n, k: m, a: a.data, b: outGrad, c: &grad)
                b.accumulateGrad(grad)
            }
        }
    }

    /// Affine map over the last axis: `x [..., in] · Wᵀ + b` with
    /// `weight: [out, in]` and `bias: [out]`.
    public func linear(weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
        let inFeatures = weight.shape[1], outFeatures = weight.shape[0]
        precondition(
            rank >= 1 && shape[rank - 1] == inFeatures,
            "linear: input \(shape) does not end in \(inFeatures) features of weight \(weight.shape)")
        if let bias {
            precondition(bias.shape == [outFeatures], "linear: bias \(bias.shape) does not match weight \(weight.shape)")
        }
        let rows = shape.dropLast().reduce(1, *)
        FlopCounter.addProduct(m: rows, n: outFeatures, k: inFeatures)
        // Without a bias the product (beta 0) writes every element.
        var out = bias == nil ? unzeroedArray(rows * outFeatures) : [Float](repeating: 0, count: rows * outFeatures)
        if let bias {
            for r in 0..<rows {
                for j in 0..<outFeatures { out[r * outFeatures + j] = bias.data[j] }
            }
        }
        batchedGemm(
            batch: 1, transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
            a: data, b: weight.data, beta: bias == nil ? 0 : 1, c: &out)
        let x = self
        var inputs = [x, weight]
        if let bias { inputs.append(bias) }
        return Tensor.record("linear", shape: Array(shape.dropLast()) + [outFeatures], data: out, inputs: inputs) { outGrad in
            if x.requiresGrad {
                // dx [rows, in] = dy [rows, out] · W [out, in]
                var grad = unzeroedArray(x.count)
                batchedGemm(batch: 1, transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures, a: outGrad, b: weight.data, c: &grad)
                x.accumulateGrad(grad)
            }
            if weight.requiresGrad {
                // dW [out, in] = dyᵀ · x
                var grad = unzeroedArray(weight.count)
                batchedGemm(batch: 1, transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows, a: outGrad, b: x.data, c: &grad)
                weight.accumulateGrad(grad)
            }
            if let bias, bias.requiresGrad {
                bias.accumulateGrad(sumMiddleAxis(outGrad, outer: 1, extent: rows, inner: outFeatures))
            }
        }
    }
}

/// GEMM over sub-matrices with explicit row strides (`lda`, `ldb`, `ldc` in
/// elements), for operating on one head's columns of a `[T, D]` buffer.
///
/// OpenBLAS runs single-threaded (see `Threading`); a product large enough to
/// share is split here into blocks of rows (or of columns, when `m` is small)
/// of `C`, one per thread. Callers already inside `parallelFor` pass
/// `split: false`. Each element of `C` is computed by one call whose
/// inputs do not depend on the split, so results are bit-identical for a
/// fixed thread count.
func gemmStrided(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, split: Bool = true
) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // An empty sum: C = beta · C, and callers may hand in unzeroed C.
        for row in 0..<m {
            let cRow = c + row * ldc
            if beta == 0 {
                cRow.update(repeating: 0, count: n)
            } else {
                for j in 0..<n { cRow[j] *= beta }
            }
        }
        return
    }
    Threading.ensureConfigured()
    let threads = Threading.threadCount
    let work = m * n * k
    // Below about 4 MFLOP a split costs more in dispatch than it saves.
    if !split || threads <= 1 || work < (1 << 21) {
        blasGemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    }
    let pa = SharedConstPointer(a), pb = SharedConstPointer(b), pc = SharedPointer(c)
    // Each block packs the other operand whole, so split the longer side:
    // blocks of rows repack op(B) [k, n], blocks of columns repack op(A) [m, k].
    let splitRows = m >= n
    let extent = splitRows ? m : n
    let chunks = min(threads, extent)
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        let start = extent * chunk / chunks, end = extent * (chunk + 1) / chunks
        if start == end { return }
        if splitRows {
            // Rows [start, end) of C come from rows of op(A).
            let aBlock = transposeA ? pa.base + start : pa.base + start * lda
            blasGemm(transposeA, transposeB, end - start, n, k, alpha, aBlock, lda, pb.base, ldb, beta,
                     pc.base + start * ldc, ldc)
        } else {
            // Columns [start, end) of C come from columns of op(B).
            let bBlock = transposeB ? pb.base + start * ldb : pb.base + start
            blasGemm(transposeA, transposeB, m, end - start, k, alpha, pa.base, lda, bBlock, ldb, beta,
                     pc.base + start, ldc)
        }
    }
}

@inline(__always)
private func blasGemm(
    _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
    _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
) {
    cblas_sgemm(
        CblasRowMajor,
        transposeA ? CblasTrans : CblasNoTrans,
        transposeB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}
