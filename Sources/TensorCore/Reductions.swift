// Sums and means over axes.

/// Sums `input` (shape `[outer, extent, inner]`) over the middle axis.
func sumMiddleAxis(_ input: [Float], outer: Int, extent: Int, inner: Int) -> [Float] {
    var out = [Float](repeating: 0, count: outer * inner)
    if out.isEmpty || extent == 0 { return out }
    out.withUnsafeMutableBufferPointer { outBuffer in
        input.withUnsafeBufferPointer { inBuffer in
            let o = SharedPointer(outBuffer.baseAddress!)
            let x = SharedConstPointer(inBuffer.baseAddress!)
            parallelFor(outer, cost: extent * inner) { range in
                for i in range {
                    let destination = i * inner
                    for e in 0..<extent {
                        let source = (i * extent + e) * inner
                        for j in 0..<inner { o[destination + j] += x[source + j] }
                    }
                }
            }
        }
    }
    return out
}

extension Tensor {
    /// Sum over `axes` (all axes when nil). With `keepDims` the reduced axes
    /// stay as extent 1.
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let reduced = Set((axes ?? Array(0..<rank)).map { normalizedAxis($0, rank: rank, op: "sum") })
        var values = data
        var currentShape = shape
        for axis in reduced.sorted() {
            let outer = currentShape[..<axis].reduce(1, *)
            let inner = currentShape[(axis + 1)...].reduce(1, *)
            values = sumMiddleAxis(values, outer: outer, extent: currentShape[axis], inner: inner)
            currentShape[axis] = 1
        }
        let keptShape = currentShape
        let outShape = keepDims ? keptShape : shape.enumerated().filter { !reduced.contains($0.offset) }.map { $0.element }
        let input = self
        return Tensor.record("sum", shape: outShape, data: values, inputs: [self]) { outGrad in
            let plan = BroadcastPlan(input.shape, keptShape, op: "sum backward")
            input.accumulateGrad(broadcastMap(plan, input.data, outGrad) { _, g in g })
        }
    }

    /// Mean over `axes` (all axes when nil).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) -> Tensor {
        let reduced = Set((axes ?? Array(0..<rank)).map { normalizedAxis($0, rank: rank, op: "mean") })
        let n = reduced.reduce(1) { $0 * shape[$1] }
        return sum(axes: Array(reduced), keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
    }
}
