import Foundation

// Scaled dot-product multi-head attention, fused: the attention
// probabilities are kept for the backward pass instead of a chain of
// matmul/softmax ops.

extension Tensor {
    /// Multi-head attention of `query [B, Tq, D]` over `key [B, Tk, D]` and
    /// `value [B, Tk, D]`, with `D` split into `heads` heads of `D / heads`
    /// columns. Per head: `softmax(Q Kᵀ / √d) V`. Returns `[B, Tq, D]`. The
    /// input and output projections are separate linear layers.
    public static func attention(query: Tensor, key: Tensor, value: Tensor, heads: Int) -> Tensor {
        precondition(
            query.rank == 3 && key.rank == 3 && value.rank == 3,
            "attention: query \(query.shape), key \(key.shape) and value \(value.shape) must be [B, T, D]")
        let batch = query.shape[0], tq = query.shape[1], width = query.shape[2]
        let tk = key.shape[1]
        precondition(
            key.shape == [batch, tk, width] && value.shape == key.shape,
            "attention: key \(key.shape) and value \(value.shape) must be [\(batch), Tk, \(width)] for query \(query.shape)")
        precondition(
            heads >= 1 && width % heads == 0,
            "attention: \(heads) heads do not divide width \(width)")
        let headWidth = width / heads
        let scale = 1 / Float(headWidth).squareRoot()
        let pairs = batch * heads

        // Q·Kᵀ and P·V for every (batch, head) pair.
        FlopCounter.addProduct(m: tq, n: tk, k: headWidth, batch: 2 * pairs)
        // probabilities [B, heads, Tq, Tk]; every element of these outputs
        // is written by a product below.
        var probabilities = unzeroedArray(pairs * tq * tk)
        var out = unzeroedArray(batch * tq * width)
        withPointers(query.data, key.data, value.data) { q, k, v in
            probabilities.withUnsafeMutableBufferPointer { pBuffer in
                out.withUnsafeMutableBufferPointer { oBuffer in
                    let p = SharedPointer(pBuffer.baseAddress!), o = SharedPointer(oBuffer.baseAddress!)
                    // One (batch, head) pair per task; each product is small, so
                    // it runs unsplit on the task's thread.
                    parallelFor(pairs, cost: tq * tk * headWidth * 2) { range in
                        for pair in range {
                            let b = pair / heads, h = pair % heads
                            let scores = p.base + pair * tq * tk
                            // scores [Tq, Tk] = Qh · Khᵀ / √d
                            gemmStrided(transposeA: false, transposeB: true, m: tq, n: tk, k: headWidth, alpha: scale,
                                        a: q.base + b * tq * width + h * headWidth, lda: width,
                                        b: k.base + b * tk * width + h * headWidth, ldb: width,
                                        c: scores, ldc: tk, split: false)
                            for row in 0..<tq { softmaxRow(scores + row * tk, scores + row * tk, tk) }
                            // Oh [Tq, d] = P · Vh
                            gemmStrided(transposeA: false, transposeB: false, m: tq, n: headWidth, k: tk,
                                        a: scores, lda: tk,
                                        b: v.base + b * tk * width + h * headWidth, ldb: width,
                                        c: o.base + b * tq * width + h * headWidth, ldc: width, split: false)
                        }
                    }
                }
            }
        }

        let savedProbabilities = probabilities
        return record("attention", shape: [batch, tq, width], data: out, inputs: [query, key, value]) { outGrad in
            var dq = unzeroedArray(query.count)
            var dk = unzeroedArray(key.count)
            var dv = unzeroedArray(value.count)
            withPointers(query.data, key.data, value.data) { q, k, v in
                withPointers(outGrad, savedProbabilities, savedProbabilities) { dO, probs, _ in
                    dq.withUnsafeMutableBufferPointer { dqBuffer in
                        dk.withUnsafeMutableBufferPointer { dkBuffer in
                            dv.withUnsafeMutableBufferPointer { dvBuffer in
                                let dqs = SharedPointer(dqBuffer.baseAddress!)
                                let dks = SharedPointer(dkBuffer.baseAddress!)
                                let dvs = SharedPointer(dvBuffer.baseAddress!)
                                parallelFor(pairs, cost: tq * tk * headWidth * 4) { range in
                                    // dS [Tq, Tk], reused across the pairs of this task.
                                    let dScores = UnsafeMutablePointer<Float>.allocate(capacity: tq * tk)
                                    defer { dScores.deallocate() }
                                    for pair in range {
                                        let b = pair / heads, h = pair % heads
                                        let offsetQ = b * tq * width + h * headWidth
                                        let offsetK = b * tk * width + h * headWidth
                                        let probsH = probs.base + pair * tq * tk
                                        // dVh [Tk, d] = Pᵀ · dOh
                                        gemmStrided(transposeA: true, transposeB: false, m: tk, n: headWidth, k: tq,
                                                    a: probsH, lda: tk, b: dO.base + offsetQ, ldb: width,
                                                    c: dvs.base + offsetK, ldc: width, split: false)
                                        // dP [Tq, Tk] = dOh · Vhᵀ
                                        gemmStrided(transposeA: false, transposeB: true, m: tq, n: tk, k: headWidth,
                                                    a: dO.base + offsetQ, lda: width, b: v.base + offsetK, ldb: width,
                                                    c: dScores, ldc: tk, split: false)
                                        // dS = P ⊙ (dP − rowsum(dP ⊙ P)), including the 1/√d scale.
                                        for row in 0..<tq {
                                            let pRow = probsH + row * tk, dRow = dScores + row * tk
                                            let dot = vectorDot(pRow, dRow, tk)
                                            for j in 0..<tk { dRow[j] = pRow[j] * (dRow[j] - dot) * scale }
                                        }
                                        // dQh [Tq, d] = dS · Kh;  dKh [Tk, d] = dSᵀ · Qh
                                        gemmStrided(transposeA: false, transposeB: false, m: tq, n: headWidth, k: tk,
                                                    a: dScores, lda: tk, b: k.base + offsetK, ldb: width,
                                                    c: dqs.base + offsetQ, ldc: width, split: false)
                                        gemmStrided(transposeA: true, transposeB: false, m: tk, n: headWidth, k: tq,
                                                    a: dScores, lda: tk, b: q.base + offsetQ, ldb: width,
                                                    c: dks.base + offsetK, ldc: width, split: false)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            query.accumulateGrad(dq)
            key.accumulateGrad(dk)
            value.accumulateGrad(dv)
        }
    }
}

/// Calls `body` with read-only shareable pointers to three buffers.
func withPointers<R>(
    _ a: [Float], _ b: [Float], _ c: [Float],
    _ body: (SharedConstPointer<Float>, SharedConstPointer<Float>, SharedConstPointer<Float>) -> R
) -> R {
    a.withUnsafeBufferPointer { aBuffer in
        b.withUnsafeBufferPointer { bBuffer in
            c.withUnsafeBufferPointer { cBuffer in
                body(SharedConstPointer(aBuffer.baseAddress!), SharedConstPointer(bBuffer.baseAddress!),
                     SharedConstPointer(cBuffer.baseAddress!))
            }
        }
    }
}
