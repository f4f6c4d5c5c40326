import Foundation

// Activation functions and softmax.

/// √(2/π) and the cubic coefficient of GELU's tanh form.
private let geluScale: Float = 0.797_884_56
private let geluCubic: Float = 0.044_715

/// An element-wise activation as static functions, so that the generic loops
/// of `Tensor.activation` are specialized and vectorized for it. A closure
/// call per element, as in `unary`, keeps those loops scalar.
private protocol ActivationKernel: SendableMetatype {
    static func value(_ x: Float) -> Float
    /// Returns the derivative at `x`.
    static func derivative(_ x: Float) -> Float
}

/// `x · sigmoid(x)`.
private enum SiLUKernel: ActivationKernel {
    @inline(__always) static func value(_ x: Float) -> Float { x / (1 + fastExp(-x)) }

    @inline(__always) static func derivative(_ x: Float) -> Float {
        let s = 1 / (1 + fastExp(-x))
        return s * (1 + x * (1 - s))
    }
}

/// GELU in its tanh form. `tanh(u)` is computed as `1 − 2/(e^{2u} + 1)`
/// with `fastExp`, so the loops vectorize; glibc's `erff` did not.
private enum GELUKernel: ActivationKernel {
    @inline(__always) static func tanhPart(_ x: Float) -> Float {
        1 - 2 / (fastExp(2 * geluScale * (x + geluCubic * x * x * x)) + 1)
    }

    @inline(__always) static func value(_ x: Float) -> Float { 0.5 * x * (1 + tanhPart(x)) }

    @inline(__always) static func derivative(_ x: Float) -> Float {
        let t = tanhPart(x)
        let du = geluScale * (1 + 3 * geluCubic * x * x)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du
    }
}

extension Tensor {
    /// `x · sigmoid(x)`. SiLU runs on every activation of the U-Net.
    public func silu() -> Tensor {
        activation("silu", SiLUKernel.self)
    }

    /// GELU in its tanh form (PyTorch's `approximate="tanh"`):
    /// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, within 1e-3 of the
    /// exact `x·Φ(x)`.
    public func gelu() -> Tensor {
        activation("gelu", GELUKernel.self)
    }

    /// Applies `Kernel` element-wise, with a backward that multiplies the
    /// incoming gradient by the derivative in the same pass.
    private func activation<Kernel: ActivationKernel>(_ op: String, _ kernel: Kernel.Type) -> Tensor {
        let count = self.count
        let output = uninitializedFloats(count) { out in
            data.withUnsafeBufferPointer { input in
                let x = SharedConstPointer(input.baseAddress!), y = SharedPointer(out)
                parallelFor(count) { range in
                    for i in range { y[i] = Kernel.value(x[i]) }
                }
            }
        }
        let input = self
        return Tensor.record(op, shape: shape, data: output, inputs: [self]) { outGrad in
            let grad = uninitializedFloats(count) { out in
                input.data.withUnsafeBufferPointer { inputBuffer in
                    outGrad.withUnsafeBufferPointer { dyBuffer in
                        let x = SharedConstPointer(inputBuffer.baseAddress!)
                        let dy = SharedConstPointer(dyBuffer.baseAddress!)
                        let g = SharedPointer(out)
                        parallelFor(count) { range in
                            for i in range { g[i] = dy[i] * Kernel.derivative(x[i]) }
                        }
                    }
                }
            }
            input.accumulateGrad(grad)
        }
    }

    /// `1 / (1 + e^{-x})`.
    public func sigmoid() -> Tensor {
        unary("sigmoid", { x in 1 / (1 + fastExp(-x)) }, derivative: { _, y in y * (1 - y) })
    }

    /// `max(x, 0)`.
    public func relu() -> Tensor {
        unary("relu", { Swift.max($0, 0) }, derivative: { x, _ in x > 0 ? 1 : 0 })
    }

    /// Softmax over the last axis, computed stably (the row maximum is
    /// subtracted first).
    public func softmax() -> Tensor {
        precondition(rank >= 1, "softmax: needs rank 1 or more, got shape \(shape)")
        let width = shape[rank - 1]
        let rows = width == 0 ? 0 : count / width
        let output = softmaxRows(data, rows: rows, width: width)
        let input = self
        return Tensor.record("softmax", shape: shape, data: output, inputs: [self]) { outGrad in
            input.accumulateGrad(softmaxBackwardRows(output, outGrad, rows: rows, width: width))
        }
    }
}

/// Row-wise softmax of a `[rows, width]` buffer.
func softmaxRows(_ input: [Float], rows: Int, width: Int) -> [Float] {
    var out = [Float](repeating: 0, count: input.count)
    if input.isEmpty { return out }
    out.withUnsafeMutableBufferPointer { outBuffer in
        input.withUnsafeBufferPointer { inBuffer in
            let o = SharedPointer(outBuffer.baseAddress!)
            let x = SharedConstPointer(inBuffer.baseAddress!)
            parallelFor(rows, cost: width * 8) { range in
                for row in range {
                    softmaxRow(x.base + row * width, o.base + row * width, width)
                }
            }
        }
    }
    return out
}

/// Softmax of one row of `width` values from `source` into `destination`,
/// which may be the same buffer.
@inline(__always)
func softmaxRow(_ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>, _ width: Int) {
    let maximum = vectorMax(source, width)
    for j in 0..<width { destination[j] = fastExp(source[j] - maximum) }
    let scale = 1 / vectorSum(destination, width)
    for j in 0..<width { destination[j] *= scale }
}

/// Adjoint of the row-wise softmax: `dx = y ⊙ (dy − Σ dy ⊙ y)` per row.
func softmaxBackwardRows(_ output: [Float], _ outGrad: [Float], rows: Int, width: Int) -> [Float] {
    var grad = [Float](repeating: 0, count: output.count)
    if output.isEmpty { return grad }
    grad.withUnsafeMutableBufferPointer { gradBuffer in
        output.withUnsafeBufferPointer { yBuffer in
            outGrad.withUnsafeBufferPointer { dyBuffer in
                let g = SharedPointer(gradBuffer.baseAddress!)
                let y = SharedConstPointer(yBuffer.baseAddress!)
                let dy = SharedConstPointer(dyBuffer.baseAddress!)
                parallelFor(rows, cost: width * 4) { range in
                    for row in range {
                        let base = row * width
                        let dot = vectorDot(dy.base + base, y.base + base, width)
                        for j in 0..<width { g[base + j] = y[base + j] * (dy[base + j] - dot) }
                    }
                }
            }
        }
    }
    return grad
}
