import Foundation

// Group norm and layer norm share one kernel: the input is a set of rows that
// are normalized independently, then scaled and shifted per channel.

/// Mapping of elements to normalized rows and to affine channels.
struct NormalizationLayout {
    /// Rows normalized independently (`N·G` for group norm).
    let rows: Int
    /// Elements per row.
    let rowLength: Int
    /// Rows per sample (`G`); row `r` covers channels of group `r % groups`.
    let groups: Int
    /// Channels per row.
    let channelsPerRow: Int
    /// Consecutive elements per channel within a row (`H·W`, or 1).
    let spatial: Int
}

/// Activation applied after the affine step of a normalization, fused into its loops.
enum NormalizationActivation {
    case identity
    /// `z · sigmoid(z)`, as in a U-Net's group norm followed by SiLU.
    case silu
}

/// Normalizes every row of `x`, then applies `weight[c]` and `bias[c]` and
/// the activation. Returns the output and, per row, the mean and reciprocal
/// standard deviation.
func normalizeForward(
    _ x: [Float], _ layout: NormalizationLayout, weight: [Float], bias: [Float], epsilon: Float,
    activation: NormalizationActivation = .identity
) -> (output: [Float], mean: [Float], inverseStd: [Float]) {
    var output = [Float](repeating: 0, count: x.count)
    var means = [Float](repeating: 0, count: layout.rows)
    var inverseStds = [Float](repeating: 0, count: layout.rows)
    if x.isEmpty { return (output, means, inverseStds) }
    output.withUnsafeMutableBufferPointer { outBuffer in
        means.withUnsafeMutableBufferPointer { meanBuffer in
            inverseStds.withUnsafeMutableBufferPointer { stdBuffer in
                x.withUnsafeBufferPointer { xBuffer in
                    weight.withUnsafeBufferPointer { wBuffer in
                        bias.withUnsafeBufferPointer { bBuffer in
                            let o = SharedPointer(outBuffer.baseAddress!), xs = SharedConstPointer(xBuffer.baseAddress!)
                            let m = SharedPointer(meanBuffer.baseAddress!), s = SharedPointer(stdBuffer.baseAddress!)
                            let w = SharedConstPointer(wBuffer.baseAddress!), b = SharedConstPointer(bBuffer.baseAddress!)
                            parallelFor(layout.rows, cost: layout.rowLength * 3) { range in
                                for row in range {
                                    let base = row * layout.rowLength
                                    // Two passes (mean, then squared deviations) with
                                    // eight-lane sums keep Float32 accurate for rows of
                                    // many thousands of elements and vectorize.
                                    let values = xs.base + base
                                    let mean = vectorSum(values, layout.rowLength) / Float(layout.rowLength)
                                    let squares = vectorSquaredDeviation(values, layout.rowLength, from: mean)
                                    let inverseStd = 1 / (squares / Float(layout.rowLength) + epsilon).squareRoot()
                                    m[row] = mean
                                    s[row] = inverseStd
                                    let firstChannel = (row % layout.groups) * layout.channelsPerRow
                                    for c in 0..<layout.channelsPerRow {
                                        let scale = w[firstChannel + c] * inverseStd
                                        let shift = b[firstChannel + c] - mean * scale
                                        // Pointers to the channel's run keep index
                                        // arithmetic (and its overflow checks) out of
                                        // the loops, which then vectorize.
                                        let input = xs.base + base + c * layout.spatial
                                        let output = o.base + base + c * layout.spatial
                                        switch activation {
                                        case .identity:
                                            for j in 0..<layout.spatial { output[j] = input[j] * scale + shift }
                                        case .silu:
                                            for j in 0..<layout.spatial {
                                                let z = input[j] * scale + shift
                                                output[j] = z / (1 + fastExp(-z))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    return (output, means, inverseStds)
}

/// Gradients of `normalizeForward` with respect to input, weight and bias.
/// `bias` is read only for the SiLU activation, whose input is recomputed.
func normalizeBackward(
    _ x: [Float], _ dy: [Float], _ layout: NormalizationLayout,
    weight: [Float], bias: [Float], mean: [Float], inverseStd: [Float],
    activation: NormalizationActivation = .identity
) -> (dx: [Float], dWeight: [Float], dBias: [Float]) {
    let channels = layout.groups * layout.channelsPerRow
    // Per-row partial sums for the affine gradients, reduced after the loop.
    var partialWeight = [Float](repeating: 0, count: layout.rows * layout.channelsPerRow)
    var partialBias = [Float](repeating: 0, count: layout.rows * layout.channelsPerRow)
    if x.isEmpty { return ([], [Float](repeating: 0, count: channels), [Float](repeating: 0, count: channels)) }
    let dx = uninitializedFloats(x.count) { dxBase in
        partialWeight.withUnsafeMutableBufferPointer { pwBuffer in
            partialBias.withUnsafeMutableBufferPointer { pbBuffer in
                x.withUnsafeBufferPointer { xBuffer in
                    dy.withUnsafeBufferPointer { dyBuffer in
                        weight.withUnsafeBufferPointer { wBuffer in
                            bias.withUnsafeBufferPointer { bBuffer in
                                let out = SharedPointer(dxBase)
                                let pw = SharedPointer(pwBuffer.baseAddress!), pb = SharedPointer(pbBuffer.baseAddress!)
                                let xs = SharedConstPointer(xBuffer.baseAddress!)
                                let g = SharedConstPointer(dyBuffer.baseAddress!)
                                let w = SharedConstPointer(wBuffer.baseAddress!), b = SharedConstPointer(bBuffer.baseAddress!)
                                parallelFor(layout.rows, cost: layout.rowLength * 4) { range in
                                    for row in range {
                                        normalizeBackwardRow(
                                            row, layout, x: xs.base, dy: g.base, weight: w.base, bias: b.base,
                                            mean: mean[row], inverseStd: inverseStd[row], activation: activation,
                                            dx: out.base, partialWeight: pw.base, partialBias: pb.base)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    var dWeight = [Float](repeating: 0, count: channels)
    var dBias = [Float](repeating: 0, count: channels)
    for row in 0..<layout.rows {
        let firstChannel = (row % layout.groups) * layout.channelsPerRow
        for c in 0..<layout.channelsPerRow {
            dWeight[firstChannel + c] += partialWeight[row * layout.channelsPerRow + c]
            dBias[firstChannel + c] += partialBias[row * layout.channelsPerRow + c]
        }
    }
    return (dx, dWeight, dBias)
}

/// Computes one row of `normalizeBackward` for layer norm, which has one
/// element per channel, so the loops run over the channels.
@inline(__always)
private func normalizeBackwardChannelRow(
    _ row: Int, _ layout: NormalizationLayout, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, mean mu: Float, inverseStd rstd: Float,
    dx: UnsafeMutablePointer<Float>, partialWeight: UnsafeMutablePointer<Float>, partialBias: UnsafeMutablePointer<Float>
) {
    let base = row * layout.rowLength
    let input = x + base, incoming = dy + base, target = dx + base
    let w = weight + (row % layout.groups) * layout.channelsPerRow
    let rowWeight = partialWeight + row * layout.channelsPerRow, rowBias = partialBias + row * layout.channelsPerRow
    var sumDxhat: Float = 0
    var sumDxhatXhat: Float = 0
    for c in 0..<layout.channelsPerRow {
        let xhat = (input[c] - mu) * rstd
        rowWeight[c] = incoming[c] * xhat
        rowBias[c] = incoming[c]
        sumDxhat += incoming[c] * w[c]
        sumDxhatXhat += incoming[c] * w[c] * xhat
    }

    let meanDxhat = sumDxhat / Float(layout.rowLength)
    let meanDxhatXhat = sumDxhatXhat / Float(layout.rowLength)
    for c in 0..<layout.channelsPerRow {
        let xhat = (input[c] - mu) * rstd
        target[c] = rstd * (incoming[c] * w[c] - meanDxhat - xhat * meanDxhatXhat)
    }
}

/// Computes one row of `normalizeBackward`: the row of `dx` and the row's
/// per-channel sums for the weight and bias gradients.
@inline(__always)
private func normalizeBackwardRow(
    _ row: Int, _ layout: NormalizationLayout, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, mean mu: Float, inverseStd rstd: Float,
    activation: NormalizationActivation,
    dx: UnsafeMutablePointer<Float>, partialWeight: UnsafeMutablePointer<Float>, partialBias: UnsafeMutablePointer<Float>
) {
    let base = row * layout.rowLength
    let firstChannel = (row % layout.groups) * layout.channelsPerRow
    if layout.spatial == 1 && activation == .identity {
        normalizeBackwardChannelRow(
            row, layout, x: x, dy: dy, weight: weight, mean: mu, inverseStd: rstd,
            dx: dx, partialWeight: partialWeight, partialBias: partialBias)
        return
    }

    // dz is the gradient at the affine output: dy itself, or dy times the
    // SiLU derivative, kept in dx until the second pass overwrites it.
    let dz: UnsafePointer<Float> = activation == .identity ? dy + base : UnsafePointer(dx + base)
    // Σ dx̂ and Σ dx̂·x̂ over the row, where dx̂ = dz·w.
    var sumDxhat: Float = 0
    var sumDxhatXhat: Float = 0
    for c in 0..<layout.channelsPerRow {
        let wc = weight[firstChannel + c]
        let offset = c * layout.spatial
        if activation == .silu {
            let scale = wc * rstd
            let shift = bias[firstChannel + c] - mu * scale
            let input = x + base + offset, incoming = dy + base + offset, target = dx + base + offset
            for j in 0..<layout.spatial {
                let z = input[j] * scale + shift
                let s = 1 / (1 + fastExp(-z))
                target[j] = incoming[j] * s * (1 + z * (1 - s))
            }
        }
        let sumDz = vectorSum(dz + offset, layout.spatial)
        let sumDzXhat = vectorCenteredDot(dz + offset, x + base + offset, layout.spatial, center: mu) * rstd
        partialWeight[row * layout.channelsPerRow + c] = sumDzXhat
        partialBias[row * layout.channelsPerRow + c] = sumDz
        sumDxhat += sumDz * wc
        sumDxhatXhat += sumDzXhat * wc
    }

    let n = Float(layout.rowLength)
    let meanDxhat = sumDxhat / n
    let meanDxhatXhat = sumDxhatXhat / n
    for c in 0..<layout.channelsPerRow {
        let wc = weight[firstChannel + c]
        let start = base + c * layout.spatial
        let input = x + start, gradient = dz + c * layout.spatial, target = dx + start
        for j in 0..<layout.spatial {
            let xhat = (input[j] - mu) * rstd
            target[j] = rstd * (gradient[j] * wc - meanDxhat - xhat * meanDxhatXhat)
        }
    }
}

extension Tensor {
    private func normalized(
        _ op: String, layout: NormalizationLayout, weight: Tensor, bias: Tensor, epsilon: Float,
        activation: NormalizationActivation = .identity
    ) -> Tensor {
        let forward = normalizeForward(
            data, layout, weight: weight.data, bias: bias.data, epsilon: epsilon, activation: activation)
        let x = self
        return Tensor.record(op, shape: shape, data: forward.output, inputs: [x, weight, bias]) { outGrad in
            let grads = normalizeBackward(
                x.data, outGrad, layout, weight: weight.data, bias: bias.data, mean: forward.mean,
                inverseStd: forward.inverseStd, activation: activation)
            x.accumulateGrad(grads.dx)
            weight.accumulateGrad(grads.dWeight)
            bias.accumulateGrad(grads.dBias)
        }
    }

    /// Group normalization of `[N, C, ...]` over `groups` groups of channels,
    /// with per-channel `weight [C]` and `bias [C]`.
    public func groupNorm(groups: Int, weight: Tensor, bias: Tensor, epsilon: Float = 1e-5) -> Tensor {
        groupNorm(groups: groups, weight: weight, bias: bias, epsilon: epsilon, activation: .identity)
    }

    /// `groupNorm(...).silu()` in one op: the same values, with one pass
    /// over the activations instead of two and no intermediate tensor.
    public func groupNormSiLU(groups: Int, weight: Tensor, bias: Tensor, epsilon: Float = 1e-5) -> Tensor {
        groupNorm(groups: groups, weight: weight, bias: bias, epsilon: epsilon, activation: .silu)
    }

    private func groupNorm(
        groups: Int, weight: Tensor, bias: Tensor, epsilon: Float, activation: NormalizationActivation
    ) -> Tensor {
        precondition(rank >= 2, "groupNorm: input must be [N, C, ...], got \(shape)")
        let channels = shape[1]
        precondition(
            groups >= 1 && channels % groups == 0,
            "groupNorm: \(groups) groups do not divide \(channels) channels of input \(shape)")
        precondition(
            weight.shape == [channels] && bias.shape == [channels],
            "groupNorm: weight \(weight.shape) and bias \(bias.shape) must both be [\(channels)]")
        let spatial = shape[2...].reduce(1, *)
        let layout = NormalizationLayout(
            rows: shape[0] * groups, rowLength: channels / groups * spatial, groups: groups,
            channelsPerRow: channels / groups, spatial: spatial)
        return normalized(activation == .silu ? "group_norm_silu" : "group_norm", layout: layout, weight: weight,
                          bias: bias, epsilon: epsilon, activation: activation)
    }

    /// Layer normalization over the last axis `[..., D]`, with `weight [D]`
    /// and `bias [D]`.
    public func layerNorm(weight: Tensor, bias: Tensor, epsilon: Float = 1e-5) -> Tensor {
        precondition(rank >= 1, "layerNorm: input must have rank 1 or more")
        let width = shape[rank - 1]
        precondition(
            weight.shape == [width] && bias.shape == [width],
            "layerNorm: weight \(weight.shape) and bias \(bias.shape) must both be [\(width)] for input \(shape)")
        let layout = NormalizationLayout(
            rows: width == 0 ? 0 : count / width, rowLength: width, groups: 1, channelsPerRow: width, spatial: 1)
        return normalized("layer_norm", layout: layout, weight: weight, bias: bias, epsilon: epsilon)
    }
}
