import Foundation

// Element-wise arithmetic with NumPy-style broadcasting, and unary maps.

/// How two broadcast operands line up with their result: the result is a set
/// of rows of `rowLength` elements; within a row operand `a` advances by
/// `aStep` (0 or 1) and `b` by `bStep`.
struct BroadcastPlan {
    let shape: [Int]
    let rowLength: Int
    let rowCount: Int
    let aStep: Int
    let bStep: Int
    /// Collapsed outer extents and the operands' strides along them.
    let outerShape: [Int]
    let aOuterStrides: [Int]
    let bOuterStrides: [Int]

    init(_ aShape: [Int], _ bShape: [Int], op: String) {
        let rank = max(aShape.count, bShape.count)
        let a = [Int](repeating: 1, count: rank - aShape.count) + aShape
        let b = [Int](repeating: 1, count: rank - bShape.count) + bShape
        var out = [Int](repeating: 1, count: rank)
        for axis in 0..<rank {
            if a[axis] == b[axis] || b[axis] == 1 {
                out[axis] = a[axis]
            } else if a[axis] == 1 {
                out[axis] = b[axis]
            } else {
                preconditionFailure("\(op): shapes \(aShape) and \(bShape) cannot be broadcast (axis \(axis): \(a[axis]) vs \(b[axis]))")
            }
        }
        shape = out

        // Strides with 0 on broadcast axes, then merge neighbouring axes that
        // are laid out contiguously in both operands.
        let aFull = rowMajorStrides(a)
        let bFull = rowMajorStrides(b)
        var dims: [(extent: Int, aStride: Int, bStride: Int)] = []
        for axis in 0..<rank where out[axis] != 1 {
            let entry = (out[axis], a[axis] == 1 ? 0 : aFull[axis], b[axis] == 1 ? 0 : bFull[axis])
            if let last = dims.last,
               last.aStride == entry.1 * entry.0, last.bStride == entry.2 * entry.0 {
                dims[dims.count - 1] = (last.extent * entry.0, entry.1, entry.2)
            } else {
                dims.append(entry)
            }
        }
        if let inner = dims.last, inner.aStride <= 1, inner.bStride <= 1 {
            rowLength = inner.extent
            aStep = inner.aStride
            bStep = inner.bStride
            dims.removeLast()
        } else {
            rowLength = 1
            aStep = 0
            bStep = 0
        }
        outerShape = dims.map { $0.extent }
        aOuterStrides = dims.map { $0.aStride }
        bOuterStrides = dims.map { $0.bStride }
        rowCount = shapeElementCount(outerShape)
    }

    /// Offsets of row `row` in `a` and `b`.
    @inline(__always)
    func rowOffsets(_ row: Int) -> (a: Int, b: Int) {
        var remainder = row
        var aOffset = 0
        var bOffset = 0
        var axis = outerShape.count - 1
        while axis >= 0 {
            let extent = outerShape[axis]
            let index = remainder % extent
            remainder /= extent
            aOffset += index * aOuterStrides[axis]
            bOffset += index * bOuterStrides[axis]
            axis -= 1
        }
        return (aOffset, bOffset)
    }
}

/// Arithmetic of the broadcast ops that have loops of their own.
enum BroadcastArithmetic {
    case add, subtract, multiply
}

/// One element-wise operation as a static function, so that generic loops
/// over it are specialized and vectorized.
private protocol ElementKernel: SendableMetatype {
    static func apply(_ x: Float, _ y: Float) -> Float
}

private enum AddKernel: ElementKernel {
    @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { x + y }
}

private enum SubtractKernel: ElementKernel {
    @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { x - y }
}

private enum MultiplyKernel: ElementKernel {
    @inline(__always) static func apply(_ x: Float, _ y: Float) -> Float { x * y }
}

/// Applies `f` to broadcast pairs of `a` and `b`.
@inline(__always)
func broadcastMap(
    _ plan: BroadcastPlan, _ a: [Float], _ b: [Float], _ f: @escaping @Sendable (Float, Float) -> Float
) -> [Float] {
    broadcastRows(plan, a, b) { o, x, y, length, aStep, bStep in
        if aStep == 1 && bStep == 1 {
            for j in 0..<length { o[j] = f(x[j], y[j]) }
        } else if bStep == 0 {
            let yValue = y[0]
            for j in 0..<length { o[j] = f(x[j * aStep], yValue) }
        } else {
            let xValue = x[0]
            for j in 0..<length { o[j] = f(xValue, y[j * bStep]) }
        }
    }
}

/// `broadcastMap` for `arithmetic`, with the operation fixed before the
/// loops so that each loop is a plain vectorizable one.
func broadcastMap(_ plan: BroadcastPlan, _ a: [Float], _ b: [Float], _ arithmetic: BroadcastArithmetic) -> [Float] {
    switch arithmetic {
    case .add: return broadcastKernel(plan, a, b, AddKernel.self)
    case .subtract: return broadcastKernel(plan, a, b, SubtractKernel.self)
    case .multiply: return broadcastKernel(plan, a, b, MultiplyKernel.self)
    }
}

private func broadcastKernel<Kernel: ElementKernel>(
    _ plan: BroadcastPlan, _ a: [Float], _ b: [Float], _ kernel: Kernel.Type
) -> [Float] {
    broadcastRows(plan, a, b) { o, x, y, length, aStep, bStep in
        if aStep == 1 && bStep == 1 {
            for j in 0..<length { o[j] = Kernel.apply(x[j], y[j]) }
        } else if bStep == 0 {
            let yValue = y[0]
            for j in 0..<length { o[j] = Kernel.apply(x[j * aStep], yValue) }
        } else {
            let xValue = x[0]
            for j in 0..<length { o[j] = Kernel.apply(xValue, y[j * bStep]) }
        }
    }
}

/// Runs `row(out, a, b, length, aStep, bStep)` on every row of the plan's
/// result, split across threads; the pointers point at the row's first
/// elements.
@inline(__always)
private func broadcastRows(
    _ plan: BroadcastPlan, _ a: [Float], _ b: [Float],
    _ row: @escaping @Sendable (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Int, Int, Int) -> Void
) -> [Float] {
    let count = plan.rowCount * plan.rowLength
    if count == 0 { return [] }
    return uninitializedFloats(count) { outBase in
        a.withUnsafeBufferPointer { aBuffer in
            b.withUnsafeBufferPointer { bBuffer in
                let o = SharedPointer(outBase)
                let x = SharedConstPointer(aBuffer.baseAddress!)
                let y = SharedConstPointer(bBuffer.baseAddress!)
                let length = plan.rowLength, aStep = plan.aStep, bStep = plan.bStep
                parallelFor(plan.rowCount, cost: length) { rows in
                    for index in rows {
                        let (aOffset, bOffset) = plan.rowOffsets(index)
                        row(o.base + index * length, x.base + aOffset, y.base + bOffset, length, aStep, bStep)
                    }
                }
            }
        }
    }
}

/// Sums `values`, laid out like the plan's result, over the axes along which
/// operand `a` (`towardA`) or `b` was broadcast: the adjoint of
/// broadcasting. Returns `values` itself when that operand was not
/// broadcast.
func sumBroadcast(_ plan: BroadcastPlan, _ values: [Float], towardA: Bool, count: Int) -> [Float] {
    if count == values.count { return values }
    var result = [Float](repeating: 0, count: count)
    let length = plan.rowLength
    let step = towardA ? plan.aStep : plan.bStep
    result.withUnsafeMutableBufferPointer { resultBuffer in
        values.withUnsafeBufferPointer { valueBuffer in
            let r = resultBuffer.baseAddress!, v = valueBuffer.baseAddress!
            for row in 0..<plan.rowCount {
                let offsets = plan.rowOffsets(row)
                let target = r + (towardA ? offsets.a : offsets.b)
                let source = v + row * length
                if step == 1 {
                    for j in 0..<length { target[j] += source[j] }
                } else {
                    var sum: Float = 0
                    for j in 0..<length { sum += source[j] }
                    target[0] += sum
                }
            }
        }
    }
    return result
}

/// `values[i] = -values[i]`.
func negateInPlace(_ values: inout [Float]) {
    values.withUnsafeMutableBufferPointer { buffer in
        for i in buffer.indices { buffer[i] = -buffer[i] }
    }
}

/// Sums `values(outIndex, aIndex, bIndex)` over the result into a buffer shaped
/// like operand `a` (`towardA`) or `b`: the adjoint of broadcasting.
func broadcastReduce(
    _ plan: BroadcastPlan, towardA: Bool, count: Int,
    _ value: (_ outIndex: Int, _ aIndex: Int, _ bIndex: Int) -> Float
) -> [Float] {
    var result = [Float](repeating: 0, count: count)
    result.withUnsafeMutableBufferPointer { buffer in
        for row in 0..<plan.rowCount {
            let (aOffset, bOffset) = plan.rowOffsets(row)
            let base = row * plan.rowLength
            for j in 0..<plan.rowLength {
                let aIndex = aOffset + j * plan.aStep
                let bIndex = bOffset + j * plan.bStep
                buffer[towardA ? aIndex : bIndex] += value(base + j, aIndex, bIndex)
            }
        }
    }
    return result
}

/// Applies `f` to each element.
@inline(__always)
func elementMap(_ input: [Float], _ f: @escaping @Sendable (Float) -> Float) -> [Float] {
    var out = [Float](repeating: 0, count: input.count)
    if input.isEmpty { return out }
    out.withUnsafeMutableBufferPointer { outBuffer in
        input.withUnsafeBufferPointer { inBuffer in
            let o = SharedPointer(outBuffer.baseAddress!)
            let x = SharedConstPointer(inBuffer.baseAddress!)
            parallelFor(input.count) { range in
                for i in range { o[i] = f(x[i]) }
            }
        }
    }
    return out
}

/// Combines two equal-length buffers element by element.
@inline(__always)
func elementZip(_ a: [Float], _ b: [Float], _ f: @escaping @Sendable (Float, Float) -> Float) -> [Float] {
    precondition(a.count == b.count, "elementZip: \(a.count) vs \(b.count) elements")
    var out = [Float](repeating: 0, count: a.count)
    if a.isEmpty { return out }
    out.withUnsafeMutableBufferPointer { outBuffer in
        a.withUnsafeBufferPointer { aBuffer in
            b.withUnsafeBufferPointer { bBuffer in
                let o = SharedPointer(outBuffer.baseAddress!)
                let x = SharedConstPointer(aBuffer.baseAddress!)
                let y = SharedConstPointer(bBuffer.baseAddress!)
                parallelFor(a.count) { range in
                    for i in range { o[i] = f(x[i], y[i]) }
                }
            }
        }
    }
    return out
}

extension Tensor {
    /// Element-wise binary op with broadcasting. `gradA` and `gradB` give the
    /// partial derivatives at one element from the operand values.
    private static func binary(
        _ op: String, _ a: Tensor, _ b: Tensor,
        _ f: @escaping @Sendable (Float, Float) -> Float,
        gradA: @escaping (Float, Float) -> Float,
        gradB: @escaping (Float, Float) -> Float
    ) -> Tensor {
        let plan = BroadcastPlan(a.shape, b.shape, op: op)
        let data = broadcastMap(plan, a.data, b.data, f)
        return record(op, shape: plan.shape, data: data, inputs: [a, b]) { outGrad in
            if a.requiresGrad {
                let x = a.data, y = b.data
                a.accumulateGrad(broadcastReduce(plan, towardA: true, count: x.count) { o, i, j in
                    outGrad[o] * gradA(x[i], y[j])
                })
            }
            if b.requiresGrad {
                let x = a.data, y = b.data
                b.accumulateGrad(broadcastReduce(plan, towardA: false, count: y.count) { o, i, j in
                    outGrad[o] * gradB(x[i], y[j])
                })
            }
        }
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor {
        linearBinary("add", a, b, bSign: 1)
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        linearBinary("sub", a, b, bSign: -1)
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        let plan = BroadcastPlan(a.shape, b.shape, op: "mul")
        let data = broadcastMap(plan, a.data, b.data, .multiply)
        return record("mul", shape: plan.shape, data: data, inputs: [a, b]) { outGrad in
            // d(a·b)/da = b and d(a·b)/db = a, each summed back over the
            // axes its operand was broadcast along.
            if a.requiresGrad {
                let product = broadcastMap(BroadcastPlan(plan.shape, b.shape, op: "mul"), outGrad, b.data, .multiply)
                a.accumulateGrad(sumBroadcast(plan, product, towardA: true, count: a.count))
            }
            if b.requiresGrad {
                let product = broadcastMap(BroadcastPlan(plan.shape, a.shape, op: "mul"), outGrad, a.data, .multiply)
                b.accumulateGrad(sumBroadcast(plan, product, towardA: false, count: b.count))
            }
        }
    }

    /// `a + bSign · b` with broadcasting. The gradient of each operand is the
    /// incoming gradient summed over its broadcast axes, so no per-element
    /// derivative is evaluated.
    private static func linearBinary(_ op: String, _ a: Tensor, _ b: Tensor, bSign: Float) -> Tensor {
        let plan = BroadcastPlan(a.shape, b.shape, op: op)
        let data = broadcastMap(plan, a.data, b.data, bSign > 0 ? .add : .subtract)
        return record(op, shape: plan.shape, data: data, inputs: [a, b]) { outGrad in
            if a.requiresGrad {
                a.accumulateGrad(sumBroadcast(plan, outGrad, towardA: true, count: a.count))
            }
            if b.requiresGrad {
                var grad = sumBroadcast(plan, outGrad, towardA: false, count: b.count)
                if bSign < 0 { negateInPlace(&grad) }
                b.accumulateGrad(grad)
            }
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        binary("div", a, b, { $0 / $1 }, gradA: { _, y in 1 / y }, gradB: { x, y in -x / (y * y) })
    }

    /// Element-wise map with derivative `derivative(x, y)` from input `x` and
    /// output `y`.
    func unary(
        _ op: String, _ f: @escaping @Sendable (Float) -> Float,
        derivative: @escaping @Sendable (Float, Float) -> Float
    ) -> Tensor {
        let output = elementMap(data, f)
        let input = self
        return Tensor.record(op, shape: shape, data: output, inputs: [self]) { outGrad in
            let local = elementZip(input.data, output, derivative)
            input.accumulateGrad(elementZip(outGrad, local) { $0 * $1 })
        }
    }

    public static func + (a: Tensor, b: Float) -> Tensor {
        a.unary("add_scalar", { $0 + b }, derivative: { _, _ in 1 })
    }

    public static func - (a: Tensor, b: Float) -> Tensor {
        a + (-b)
    }

    public static func * (a: Tensor, b: Float) -> Tensor {
        a.unary("mul_scalar", { $0 * b }, derivative: { _, _ in b })
    }

    public static func * (a: Float, b: Tensor) -> Tensor {
        b * a
    }

    public static func / (a: Tensor, b: Float) -> Tensor {
        a * (1 / b)
    }

    public static prefix func - (a: Tensor) -> Tensor {
        a * -1
    }

    public func exp() -> Tensor {
        unary("exp", { Foundation.exp($0) }, derivative: { _, y in y })
    }

    public func log() -> Tensor {
        unary("log", { Foundation.log($0) }, derivative: { x, _ in 1 / x })
    }

    public func sqrt() -> Tensor {
        unary("sqrt", { Foundation.sqrt($0) }, derivative: { _, y in 0.5 / y })
    }

    public func sin() -> Tensor {
        unary("sin", { Foundation.sin($0) }, derivative: { x, _ in Foundation.cos(x) })
    }

    public func cos() -> Tensor {
        unary("cos", { Foundation.cos($0) }, derivative: { x, _ in -Foundation.sin(x) })
    }

    public func square() -> Tensor {
        unary("square", { $0 * $0 }, derivative: { x, _ in 2 * x })
    }

    public func abs() -> Tensor {
        unary("abs", { Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) })
    }

    /// Clamps each element to `[lower, upper]`; the gradient is zero outside.
    public func clamped(_ lower: Float, _ upper: Float) -> Tensor {
        unary("clamp", { Swift.min(Swift.max($0, lower), upper) },
              derivative: { x, _ in (x >= lower && x <= upper) ? 1 : 0 })
    }
}
