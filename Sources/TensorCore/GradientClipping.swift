// Global-norm gradient clipping: all gradients are treated as one vector
// and scaled together, so their directions relative to each other survive.

/// Scales the gradients of `parameters` so that their global L2 norm is at
/// most `maxNorm`, and returns the norm before clipping.
///
/// When the norm exceeds `maxNorm`, every gradient is multiplied by
/// `maxNorm / norm`; otherwise nothing changes. Parameters with a nil
/// gradient count as zero. When the norm is not finite (an overflow or a NaN
/// in some gradient) the gradients are left unchanged and the norm is
/// returned as is, so the caller can skip the step.
@discardableResult
public func clipGradientNorm(_ parameters: [(name: String, tensor: Tensor)], maxNorm: Float) -> Float {
    clipGradientNorm(parameters.map { $0.tensor }, maxNorm: maxNorm)
}

/// Scales the gradients of `tensors` so that their global L2 norm is at most
/// `maxNorm`, and returns the norm before clipping. See the overload over
/// named parameters for the rules.
@discardableResult
public func clipGradientNorm(_ tensors: [Tensor], maxNorm: Float) -> Float {
    precondition(maxNorm.isFinite && maxNorm > 0, "clipGradientNorm: maximum norm \(maxNorm) must be finite and positive")
    let exactNorm = gradientSumOfSquares(tensors).squareRoot()
    let norm = Float(exactNorm)
    guard norm.isFinite, norm > maxNorm else { return norm }

    let scale = Float(Double(maxNorm) / exactNorm)
    for tensor in tensors {
        guard let grad = tensor.grad, grad.count > 0 else { continue }
        let count = grad.count
        grad.data.withUnsafeMutableBufferPointer { buffer in
            let x = SharedPointer(buffer.baseAddress!)
            parallelFor(count) { range in
                for i in range { x[i] *= scale }
            }
        }
    }
    return norm
}

/// Computes the L2 norm of all gradients of `tensors` taken as one vector.
/// Nil gradients count as zero.
public func globalGradientNorm(_ tensors: [Tensor]) -> Float {
    Float(gradientSumOfSquares(tensors).squareRoot())
}

func gradientSumOfSquares(_ tensors: [Tensor]) -> Double {
    var total: Double = 0
    for tensor in tensors {
        guard let grad = tensor.grad else { continue }
        total += sumOfSquares(grad.data)
    }
    return total
}

/// Elements per block of `sumOfSquares`. Each block is summed in Float lanes
/// and the block sums in Double, which bounds the rounding error.
private let sumOfSquaresBlock = 1 << 12

/// Sum of the squares of `values`. Blocks are fixed by the count alone, so
/// the result is the same for every thread count.
func sumOfSquares(_ values: [Float]) -> Double {
    let count = values.count
    if count == 0 { return 0 }
    let blocks = (count + sumOfSquaresBlock - 1) / sumOfSquaresBlock
    var partials = [Double](repeating: 0, count: blocks)
    values.withUnsafeBufferPointer { input in
        partials.withUnsafeMutableBufferPointer { output in
            let x = SharedConstPointer(input.baseAddress!)
            let sums = SharedPointer(output.baseAddress!)
            parallelFor(blocks, cost: sumOfSquaresBlock) { range in
                for block in range {
                    let start = block * sumOfSquaresBlock
                    let length = Swift.min(sumOfSquaresBlock, count - start)
                    sums[block] = blockSumOfSquares(x.base + start, count: length)
                }
            }
        }
    }
    return partials.reduce(0, +)
}

/// Sum of squares of `count` elements. Eight lanes in SIMD registers, because
/// the compiler may not reorder a plain Float sum to vectorize it.
@inline(__always)
private func blockSumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var lanes = SIMD8<Float>.zero
    var i = 0
    let raw = UnsafeRawPointer(x)
    while i + 8 <= count {
        let chunk = raw.loadUnaligned(fromByteOffset: i * MemoryLayout<Float>.stride, as: SIMD8<Float>.self)
        lanes += chunk * chunk
        i += 8
    }
    var total = Double(lanes.sum())
    while i < count {
        total += Double(x[i] * x[i])
        i += 1
    }
    return total
}
