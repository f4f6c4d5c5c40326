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

/// Normalizes every row of `x`, then applies `weight[c]` and `bias[c]`.
/// Returns the output and, per row, the mean and reciprocal standard deviation.
func normalizeForward(
    _ x: [Float], _ layout: NormalizationLayout, weight: [Float], bias: [Float], epsilon: Float
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
                                        let start = base + c * layout.spatial
                                        for j in 0..<layout.spatial { o[start + j] = xs[start + j] * scale + shift }
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
func normalizeBackward(
    _ x: [Float], _ dy: [Float], _ layout: NormalizationLayout,
    weight: [Float], mean: [Float], inverseStd: [Float]
) -> (dx: [Float], dWeight: [Float], dBias: [Float]) {
    var dx = [Float](repeating: 0, count: x.count)
    let channels = layout.groups * layout.channelsPerRow
    // Per-row partial sums for the affine gradients, reduced after the loop.
    var partialWeight = [Float](repeating: 0, count: layout.rows * layout.channelsPerRow)
    var partialBias = [Float](repeating: 0, count: layout.rows * layout.channelsPerRow)
    if x.isEmpty { return (dx, [Float](repeating: 0, count: channels), [Float](repeating: 0, count: channels)) }
    dx.withUnsafeMutableBufferPointer { dxBuffer in
        partialWeight.withUnsafeMutableBufferPointer { pwBuffer in
            partialBias.withUnsafeMutableBufferPointer { pbBuffer in
                x.withUnsafeBufferPointer { xBuffer in
                    dy.withUnsafeBufferPointer { dyBuffer in
                        weight.withUnsafeBufferPointer { wBuffer in
                            let out = SharedPointer(dxBuffer.baseAddress!)
                            let pw = SharedPointer(pwBuffer.baseAddress!), pb = SharedPointer(pbBuffer.baseAddress!)
                            let xs = SharedConstPointer(xBuffer.baseAddress!), g = SharedConstPointer(dyBuffer.baseAddress!)
                            let w = SharedConstPointer(wBuffer.baseAddress!)
                            parallelFor(layout.rows, cost: layout.rowLength * 4) { range in
                                for row in range {
                                    let base = row * layout.rowLength
                                    let mu = mean[row], rstd = inverseStd[row]
                                    let firstChannel = (row % layout.groups) * layout.channelsPerRow
                                    // Σ dx̂ and Σ dx̂·x̂ over the row, where dx̂ = dy·w.
                                    var sumDxhat: Float = 0
                                    var sumDxhatXhat: Float = 0
                                    for c in 0..<layout.channelsPerRow {
                                        let wc = w[firstChannel + c]
                                        let start = base + c * layout.spatial
                                        var sumDy: Float = 0
                                        var sumDyXhat: Float = 0
                                        for j in 0..<layout.spatial {
                                            let xhat = (xs[start + j] - mu) * rstd
                                            sumDy += g[start + j]
                                            sumDyXhat += g[start + j] * xhat
                                        }
                                        pw[row * layout.channelsPerRow + c] = sumDyXhat
                                        pb[row * layout.channelsPerRow + c] = sumDy
                                        sumDxhat += sumDy * wc
                                        sumDxhatXhat += sumDyXhat * wc
                                    }
                                    let n = Float(layout.rowLength)
                                    let meanDxhat = sumDxhat / n
                                    let meanDxhatXhat = sumDxhatXhat / n
                                    for c in 0..<layout.channelsPerRow {
                                        let wc = w[firstChannel + c]
                                        let start = base + c * layout.spatial
                                        for j in 0..<layout.spatial {
                                            let xhat = (xs[start + j] - mu) * rstd
                                            out[start + j] = rstd * (g[start + j] * wc - meanDxhat - xhat * meanDxhatXhat)
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

extension Tensor {
    private func normalized(
        _ op: String, layout: NormalizationLayout, weight: Tensor, bias: Tensor, epsilon: Float
    ) -> Tensor {
        let forward = normalizeForward(data, layout, weight: weight.data, bias: bias.data, epsilon: epsilon)
        let x = self
        return Tensor.record(op, shape: shape, data: forward.output, inputs: [x, weight, bias]) { outGrad in
            let grads = normalizeBackward(
                x.data, outGrad, layout, weight: weight.data, mean: forward.mean, inverseStd: forward.inverseStd)
            x.accumulateGrad(grads.dx)
            weight.accumulateGrad(grads.dWeight)
            bias.accumulateGrad(grads.dBias)
        }
    }

    /// Group normalization of `[N, C, ...]` over `groups` groups of channels,
    /// with per-channel `weight [C]` and `bias [C]`.
    public func groupNorm(groups: Int, weight: Tensor, bias: Tensor, epsilon: Float = 1e-5) -> Tensor {
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
        return normalized("group_norm", layout: layout, weight: weight, bias: bias, epsilon: epsilon)
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
