// Ops that move elements without arithmetic: reshape, permute, concat,
// split, slice. Results are contiguous copies.

/// Copies `input` (shape `inputShape`) into the order given by `axes`:
/// output axis `k` is input axis `axes[k]`.
func permuteData(_ input: [Float], shape inputShape: [Int], axes: [Int]) -> [Float] {
    let rank = inputShape.count
    let inStrides = rowMajorStrides(inputShape)
    let outShape = axes.map { inputShape[$0] }
    let count = input.count
    var out = [Float](repeating: 0, count: count)
    if count == 0 { return out }
    if rank == 0 { return input }
    let innerExtent = outShape[rank - 1]
    let innerStride = inStrides[axes[rank - 1]]
    let outerShape = Array(outShape.dropLast())
    let outerStrides = axes.dropLast().map { inStrides[$0] }
    let rows = count / innerExtent
    out.withUnsafeMutableBufferPointer { outBuffer in
        input.withUnsafeBufferPointer { inBuffer in
            let o = SharedPointer(outBuffer.baseAddress!)
            let x = SharedConstPointer(inBuffer.baseAddress!)
            parallelFor(rows, cost: innerExtent) { range in
                for row in range {
                    var remainder = row
                    var offset = 0
                    var axis = outerShape.count - 1
                    while axis >= 0 {
                        offset += (remainder % outerShape[axis]) * outerStrides[axis]
                        remainder /= outerShape[axis]
                        axis -= 1
                    }
                    let base = row * innerExtent
                    for j in 0..<innerExtent { o[base + j] = x[offset + j * innerStride] }
                }
            }
        }
    }
    return out
}

extension Tensor {
    /// Returns the same elements with a new shape. One extent may be -1,
    /// which is inferred from the element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.reduce(1) { $0 * $1.element }
            precondition(known > 0 && count % known == 0, "reshape: cannot infer -1 in \(newShape) from \(shape)")
            resolved[inferred] = count / known
        }
        precondition(
            shapeElementCount(resolved) == count,
            "reshape: \(shape) has \(count) elements but \(newShape) needs \(shapeElementCount(resolved))")
        let input = self
        return Tensor.record("reshape", shape: resolved, data: data, inputs: [self]) { outGrad in
            input.accumulateGrad(outGrad)
        }
    }

    /// Reorders axes: output axis `k` is input axis `axes[k]`.
    public func permuted(_ axes: [Int]) -> Tensor {
        precondition(
            axes.count == rank && Set(axes) == Set(0..<rank),
            "permute: \(axes) is not a permutation of the axes of shape \(shape)")
        let outShape = axes.map { shape[$0] }
        var inverse = [Int](repeating: 0, count: rank)
        for (k, axis) in axes.enumerated() { inverse[axis] = k }
        let input = self
        return Tensor.record("permute", shape: outShape, data: permuteData(data, shape: shape, axes: axes), inputs: [self]) { outGrad in
            input.accumulateGrad(permuteData(outGrad, shape: outShape, axes: inverse))
        }
    }

    /// Swaps the last two axes.
    public func transposedLastTwo() -> Tensor {
        precondition(rank >= 2, "transpose: needs rank 2 or more, got shape \(shape)")
        var axes = Array(0..<rank)
        axes.swapAt(rank - 1, rank - 2)
        return permuted(axes)
    }

    /// Elements `range` along `axis`.
    public func sliced(axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = normalizedAxis(axis, rank: rank, op: "slice")
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[axis],
            "slice: range \(range) is outside 0..<\(shape[axis]) on axis \(axis) of shape \(shape)")
        let outer = shape[..<axis].reduce(1, *)
        let inner = shape[(axis + 1)...].reduce(1, *)
        let extent = shape[axis]
        var outShape = shape
        outShape[axis] = range.count
        var out = [Float](repeating: 0, count: outer * range.count * inner)
        let rowLength = range.count * inner
        for o in 0..<outer {
            let source = (o * extent + range.lowerBound) * inner
            out.withUnsafeMutableBufferPointer { buffer in
                data.withUnsafeBufferPointer { input in
                    for j in 0..<rowLength { buffer[o * rowLength + j] = input[source + j] }
                }
            }
        }
        let input = self
        return Tensor.record("slice", shape: outShape, data: out, inputs: [self]) { outGrad in
            var grad = [Float](repeating: 0, count: input.count)
            for o in 0..<outer {
                let destination = (o * extent + range.lowerBound) * inner
                for j in 0..<rowLength { grad[destination + j] = outGrad[o * rowLength + j] }
            }
            input.accumulateGrad(grad)
        }
    }

    /// Splits along `axis` into pieces of the given sizes, which must add up
    /// to the extent of the axis.
    public func split(axis: Int, sizes: [Int]) -> [Tensor] {
        let resolved = normalizedAxis(axis, rank: rank, op: "split")
        precondition(
            sizes.reduce(0, +) == shape[resolved],
            "split: sizes \(sizes) do not add up to extent \(shape[resolved]) of axis \(resolved) in shape \(shape)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return sliced(axis: resolved, start..<(start + size))
        }
    }

    /// Joins tensors along `axis`; all other extents must match.
    public static func concat(_ tensors: [Tensor], axis: Int) -> Tensor {
        precondition(!tensors.isEmpty, "concat: no tensors given")
        let first = tensors[0]
        let axis = normalizedAxis(axis, rank: first.rank, op: "concat")
        for tensor in tensors {
            var a = tensor.shape, b = first.shape
            precondition(a.count == b.count, "concat: shapes \(first.shape) and \(tensor.shape) differ in rank")
            a[axis] = 0
            b[axis] = 0
            precondition(a == b, "concat: shapes \(first.shape) and \(tensor.shape) differ outside axis \(axis)")
        }
        let outer = first.shape[..<axis].reduce(1, *)
        let inner = first.shape[(axis + 1)...].reduce(1, *)
        let extents = tensors.map { $0.shape[axis] }
        let total = extents.reduce(0, +)
        var outShape = first.shape
        outShape[axis] = total
        var out = [Float](repeating: 0, count: outer * total * inner)
        var offset = 0
        for (tensor, extent) in zip(tensors, extents) {
            let rowLength = extent * inner
            tensor.data.withUnsafeBufferPointer { input in
                for o in 0..<outer {
                    let destination = (o * total + offset) * inner
                    for j in 0..<rowLength { out[destination + j] = input[o * rowLength + j] }
                }
            }
            offset += extent
        }
        return record("concat", shape: outShape, data: out, inputs: tensors) { outGrad in
            var offset = 0
            for (tensor, extent) in zip(tensors, extents) {
                defer { offset += extent }
                guard tensor.requiresGrad else { continue }
                let rowLength = extent * inner
                var grad = [Float](repeating: 0, count: outer * rowLength)
                for o in 0..<outer {
                    let source = (o * total + offset) * inner
                    for j in 0..<rowLength { grad[o * rowLength + j] = outGrad[source + j] }
                }
                tensor.accumulateGrad(grad)
            }
        }
    }
}
