// 2-D convolution over NCHW tensors as one GEMM per call: the input is
// unfolded (im2col) across the whole batch into a `[C·k·k, N·Ho·Wo]` matrix,
// multiplied by the weight `[O, C·k·k]`, and the `[O, N·Ho·Wo]` result is
// rearranged to `[N, O, Ho, Wo]`.

/// Geometry of one convolution call.
struct ConvolutionGeometry {
    let batch: Int, inChannels: Int, height: Int, width: Int
    let outChannels: Int, kernel: Int, stride: Int, padding: Int
    let outHeight: Int, outWidth: Int

    var outPixels: Int { outHeight * outWidth }
    /// Rows of the unfolded matrix: `C·k·k`.
    var patchSize: Int { inChannels * kernel * kernel }
    /// Columns of the unfolded matrix: `N·Ho·Wo`.
    var columns: Int { batch * outPixels }
    /// Stride 1 with an output as large as the input (`k = 2p + 1`). Then
    /// tap `(ky, kx)` reads the input plane shifted by a constant offset, so
    /// whole planes move in one copy instead of row by row.
    var keepsSize: Bool { stride == 1 && outHeight == height && outWidth == width }
}

/// For a size-keeping convolution (`keepsSize`), the part of an output plane
/// where tap `(ky, kx)` reads the input plane at `out + shift`: output rows
/// `rows`, and within each row the columns `columns`. The flat range
/// `copy` (at most `rows`, clamped to the plane) may include columns
/// outside `columns`, whose values wrap around to a neighbouring row and
/// must be zeroed or ignored.
struct ShiftedTap {
    let shift: Int
    let rows: Range<Int>
    let columns: Range<Int>
    let copy: Range<Int>

    init(_ g: ConvolutionGeometry, ky: Int, kx: Int) {
        let dy = ky - g.padding, dx = kx - g.padding
        shift = dy * g.width + dx
        // Taps wider than the plane leave empty ranges.
        let firstRow = Swift.min(Swift.max(0, -dy), g.height)
        rows = firstRow..<Swift.max(firstRow, Swift.min(g.height, g.height - dy))
        let firstColumn = Swift.min(Swift.max(0, -dx), g.width)
        columns = firstColumn..<Swift.max(firstColumn, Swift.min(g.width, g.width - dx))
        let plane = g.height * g.width
        let lower = Swift.min(Swift.max(rows.lowerBound * g.width, -shift), rows.upperBound * g.width)
        let upper = Swift.min(rows.upperBound * g.width, plane - shift)
        copy = lower..<Swift.max(lower, upper)
    }
}

/// Unfolds `x [N, C, H, W]` into `cols [C·k·k, N·Ho·Wo]`; taps that fall in
/// the padding read zero. Rows of `cols` start `rowStride` elements apart
/// (by default `N·Ho·Wo`), so a block of samples can fill its columns of a
/// larger matrix.
func im2col(
    _ x: UnsafePointer<Float>, _ g: ConvolutionGeometry, _ cols: UnsafeMutablePointer<Float>, rowStride: Int? = nil
) {
    let xs = SharedConstPointer(x), cs = SharedPointer(cols)
    let kk = g.kernel * g.kernel
    let stride = rowStride ?? g.columns
    parallelFor(g.patchSize, cost: g.columns) { rows in
        for row in rows {
            let c = row / kk, ky = (row % kk) / g.kernel, kx = row % g.kernel
            let rowBase = cs.base + row * stride
            if g.keepsSize {
                let tap = ShiftedTap(g, ky: ky, kx: kx)
                let plane = g.height * g.width
                for n in 0..<g.batch {
                    let input = xs.base + (n * g.inChannels + c) * plane
                    let out = rowBase + n * plane
                    out.update(repeating: 0, count: tap.copy.lowerBound)
                    (out + tap.copy.lowerBound).update(from: input + tap.copy.lowerBound + tap.shift,
                                                       count: tap.copy.count)
                    (out + tap.copy.upperBound).update(repeating: 0, count: plane - tap.copy.upperBound)
                    zeroOutsideColumns(out, tap, g)
                }
                continue
            }
            for n in 0..<g.batch {
                let plane = xs.base + (n * g.inChannels + c) * g.height * g.width
                let out = rowBase + n * g.outPixels
                for oy in 0..<g.outHeight {
                    let iy = oy * g.stride - g.padding + ky
                    let outRow = out + oy * g.outWidth
                    if iy < 0 || iy >= g.height {
                        outRow.update(repeating: 0, count: g.outWidth)
                        continue
                    }
                    let inRow = plane + iy * g.width
                    if g.stride == 1 {
                        // Valid taps are the contiguous run ox in [lo, hi).
                        let lo = Swift.max(0, g.padding - kx)
                        let hi = Swift.min(g.outWidth, g.width + g.padding - kx)
                        if lo > 0 { outRow.update(repeating: 0, count: Swift.min(lo, g.outWidth)) }
                        if hi > lo { (outRow + lo).update(from: inRow + (lo - g.padding + kx), count: hi - lo) }
                        if hi < g.outWidth { (outRow + Swift.max(hi, 0)).update(repeating: 0, count: g.outWidth - Swift.max(hi, 0)) }
                    } else {
                        for ox in 0..<g.outWidth {
                            let ix = ox * g.stride - g.padding + kx
                            outRow[ox] = (ix >= 0 && ix < g.width) ? inRow[ix] : 0
                        }
                    }
                }
            }
        }
    }
}

/// Adjoint of `im2col`: sums every column entry onto the input pixel it was
/// read from, overwriting `dx`. Entries of `cols` that belong to padding
/// taps may be overwritten with zero.
func col2im(_ cols: UnsafeMutablePointer<Float>, _ g: ConvolutionGeometry, _ dx: UnsafeMutablePointer<Float>) {
    let cs = SharedPointer(cols), ds = SharedPointer(dx)
    let kk = g.kernel * g.kernel
    // One channel per task: every row of a channel writes only that channel.
    parallelFor(g.inChannels, cost: kk * g.columns) { channels in
        for c in channels {
            let plane = g.height * g.width
            // The centre tap of a size-keeping convolution covers every
            // pixel unshifted, so it is copied and the others are added.
            // Otherwise the planes are zeroed here, just before the sums,
            // which finds them in cache.
            let centre = g.keepsSize ? g.padding * g.kernel + g.padding : -1
            if g.keepsSize {
                let rowBase = cs.base + (c * kk + centre) * g.columns
                for n in 0..<g.batch {
                    (ds.base + (n * g.inChannels + c) * plane).update(from: rowBase + n * plane, count: plane)
                }
            } else {
                for n in 0..<g.batch { (ds.base + (n * g.inChannels + c) * plane).update(repeating: 0, count: plane) }
            }
            for tap in 0..<kk where tap != centre {
                let ky = tap / g.kernel, kx = tap % g.kernel
                let rowBase = cs.base + (c * kk + tap) * g.columns
                if g.keepsSize {
                    // Zero the wrapped columns of the copy range (gradients
                    // of padding taps, which are discarded), then add the
                    // whole range onto the shifted plane.
                    let shifted = ShiftedTap(g, ky: ky, kx: kx)
                    for n in 0..<g.batch {
                        let source = rowBase + n * plane
                        zeroOutsideColumns(source, shifted, g)
                        let target = ds.base + (n * g.inChannels + c) * plane + shifted.shift
                        for i in shifted.copy { target[i] += source[i] }
                    }
                    continue
                }
                for n in 0..<g.batch {
                    let plane = ds.base + (n * g.inChannels + c) * g.height * g.width
                    let source = rowBase + n * g.outPixels
                    for oy in 0..<g.outHeight {
                        let iy = oy * g.stride - g.padding + ky
                        if iy < 0 || iy >= g.height { continue }
                        let inRow = plane + iy * g.width
                        let sourceRow = source + oy * g.outWidth
                        if g.stride == 1 {
                            // Valid taps are the contiguous run ox in [lo, hi).
                            let lo = Swift.max(0, g.padding - kx)
                            let hi = Swift.min(g.outWidth, g.width + g.padding - kx)
                            if hi > lo {
                                let target = inRow + (lo - g.padding + kx)
                                let from = sourceRow + lo
                                for j in 0..<(hi - lo) { target[j] += from[j] }
                            }
                        } else {
                            for ox in 0..<g.outWidth {
                                let ix = ox * g.stride - g.padding + kx
                                if ix >= 0 && ix < g.width { inRow[ix] += sourceRow[ox] }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Zeroes, in the output rows of `tap`, the columns outside `tap.columns`.
@inline(__always)
private func zeroOutsideColumns(_ plane: UnsafeMutablePointer<Float>, _ tap: ShiftedTap, _ g: ConvolutionGeometry) {
    let left = tap.columns.lowerBound, right = g.width - tap.columns.upperBound
    if left == 0 && right == 0 { return }
    // Column by column down the rows: runs of one or two elements per row
    // would otherwise become a memset call each.
    let first = plane + tap.rows.lowerBound * g.width
    for x in 0..<g.width where x < left || x >= tap.columns.upperBound {
        var target = first + x
        for _ in tap.rows {
            target.pointee = 0
            target += g.width
        }
    }
}

/// Rearranges `[A, B, P]` to `[B, A, P]` (swaps the two outer axes of
/// contiguous planes of `P` elements), optionally adding `bias[a]`.
func swapOuterAxes(
    _ source: UnsafePointer<Float>, _ destination: UnsafeMutablePointer<Float>,
    outer a: Int, inner b: Int, plane p: Int, bias: UnsafePointer<Float>? = nil
) {
    let s = SharedConstPointer(source), d = SharedPointer(destination)
    let biasPointer = bias.map { SharedConstPointer($0) }
    parallelFor(b, cost: a * p) { range in
        for j in range {
            for i in 0..<a {
                let from = s.base + (i * b + j) * p
                let to = d.base + (j * a + i) * p
                if let biasPointer {
                    let value = biasPointer[i]
                    for e in 0..<p { to[e] = from[e] + value }
                } else {
                    to.update(from: from, count: p)
                }
            }
        }
    }
}

/// Elements of the unfolded input per block in `convolveInBlocks`: 1 MiB,
/// the L2 cache of one core of the AMD EPYC it was tuned on. Blocks of
/// 256 KiB sampled slower there, and 512 KiB about as fast.
let convolutionChunkElements = 1 << 18

/// Minimum columns of a block's product, even past the cache size, because
/// narrower products split across two threads ran slower than unblocked ones.
let convolutionMinimumBlockColumns = 1024

extension ConvolutionGeometry {
    /// Returns the same convolution over `count` samples.
    func withBatch(_ count: Int) -> ConvolutionGeometry {
        ConvolutionGeometry(
            batch: count, inChannels: inChannels, height: height, width: width, outChannels: outChannels,
            kernel: kernel, stride: stride, padding: padding, outHeight: outHeight, outWidth: outWidth)
    }

    /// Samples per block, so that a block's unfolded input has at most
    /// `convolutionChunkElements` elements (and at least one sample).
    var samplesPerBlock: Int {
        let byCache = convolutionChunkElements / Swift.max(patchSize * outPixels, 1)
        let byWidth = (convolutionMinimumBlockColumns + outPixels - 1) / Swift.max(outPixels, 1)
        return Swift.max(1, Swift.min(batch, Swift.max(byCache, byWidth)))
    }

    /// Calls `body(firstSample, block)` for consecutive blocks of samples.
    func forEachBlock(_ body: (Int, ConvolutionGeometry) -> Void) {
        let size = samplesPerBlock
        var start = 0
        while start < batch {
            let count = Swift.min(size, batch - start)
            body(start, withBatch(count))
            start += count
        }
    }
}

/// Computes the forward convolution a block of samples at a time, so that each block of
/// the unfolded input is still in cache when the product reads it. With
/// `keeping`, the blocks fill that whole `[C·k·k, N·Ho·Wo]` matrix for the
/// weight gradient. Without it they share one block-sized buffer.
func convolveInBlocks(
    _ x: UnsafePointer<Float>, _ g: ConvolutionGeometry, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    out: UnsafeMutablePointer<Float>, keeping cols: UnsafeMutablePointer<Float>? = nil
) {
    let blockColumns = g.samplesPerBlock * g.outPixels
    let scratch = cols == nil ? ScratchBuffer.acquire(g.patchSize * blockColumns) : nil
    let product = ScratchBuffer.acquire(g.outChannels * blockColumns)
    g.forEachBlock { start, block in
        let unfolded = cols.map { $0 + start * g.outPixels } ?? scratch!.pointer
        let rowStride = cols == nil ? block.columns : g.columns
        im2col(x + start * g.inChannels * g.height * g.width, block, unfolded, rowStride: rowStride)
        // product [O, block columns] = W [O, C·k·k] · unfolded block
        gemmStrided(
            transposeA: false, transposeB: false, m: g.outChannels, n: block.columns, k: g.patchSize,
            a: weight, lda: g.patchSize, b: unfolded, ldb: rowStride, c: product.pointer, ldc: block.columns)
        swapOuterAxes(product.pointer, out + start * g.outChannels * g.outPixels,
                      outer: g.outChannels, inner: block.batch, plane: g.outPixels, bias: bias)
    }
}

/// Returns a Float array of `count` elements with unspecified contents, for
/// outputs that a GEMM with `beta = 0` overwrites entirely. Zeroing them
/// first would be a wasted pass over memory.
@inline(__always)
func unzeroedArray(_ count: Int) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}

/// Uninitialized Float buffer of `count` elements; every element must be
/// written before it is read.
@inline(__always)
func uninitializedFloats(_ count: Int, _ fill: (UnsafeMutablePointer<Float>) -> Void) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        if count > 0 { fill(buffer.baseAddress!) }
        initialized = count
    }
}

extension Tensor {
    /// 2-D convolution of `self [N, C, H, W]` with `weight [O, C, k, k]` and
    /// optional `bias [O]`; square kernel, equal stride and zero padding on
    /// both axes. Returns `[N, O, Ho, Wo]` with `Ho = (H + 2p − k) / s + 1`.
    public func conv2d(weight: Tensor, bias: Tensor?, stride: Int = 1, padding: Int = 0) -> Tensor {
        precondition(rank == 4, "conv2d: input must be [N, C, H, W], got \(shape)")
        precondition(
            weight.rank == 4 && weight.shape[2] == weight.shape[3],
            "conv2d: weight must be [O, C, k, k], got \(weight.shape)")
        precondition(
            weight.shape[1] == shape[1],
            "conv2d: input \(shape) has \(shape[1]) channels but weight \(weight.shape) expects \(weight.shape[1])")
        if let bias {
            precondition(bias.shape == [weight.shape[0]], "conv2d: bias \(bias.shape) does not match weight \(weight.shape)")
        }
        precondition(stride >= 1 && padding >= 0, "conv2d: stride \(stride) must be ≥ 1 and padding \(padding) ≥ 0")
        let k = weight.shape[2]
        let outHeight = (shape[2] + 2 * padding - k) / stride + 1
        let outWidth = (shape[3] + 2 * padding - k) / stride + 1
        precondition(
            outHeight > 0 && outWidth > 0,
            "conv2d: kernel \(k) with padding \(padding) does not fit input \(shape)")
        let g = ConvolutionGeometry(
            batch: shape[0], inChannels: shape[1], height: shape[2], width: shape[3],
            outChannels: weight.shape[0], kernel: k, stride: stride, padding: padding,
            outHeight: outHeight, outWidth: outWidth)

        FlopCounter.addProduct(m: g.outChannels, n: g.columns, k: g.patchSize)
        if !GradMode.isEnabled {
            let out = uninitializedFloats(g.batch * g.outChannels * g.outPixels) { pointer in
                data.withUnsafeBufferPointer { x in
                    weight.data.withUnsafeBufferPointer { w in
                        if let bias {
                            bias.data.withUnsafeBufferPointer { b in
                                convolveInBlocks(x.baseAddress!, g, weight: w.baseAddress!, bias: b.baseAddress!, out: pointer)
                            }
                        } else {
                            convolveInBlocks(x.baseAddress!, g, weight: w.baseAddress!, bias: nil, out: pointer)
                        }
                    }
                }
            }
            return Tensor(shape: [g.batch, g.outChannels, outHeight, outWidth], data: out)
        }
        // cols [C·k·k, N·Ho·Wo], kept for the weight gradient.
        let cols = ScratchBuffer.acquire(g.patchSize * g.columns)
        let out = uninitializedFloats(g.batch * g.outChannels * g.outPixels) { pointer in
            data.withUnsafeBufferPointer { x in
                weight.data.withUnsafeBufferPointer { w in
                    if let bias {
                        bias.data.withUnsafeBufferPointer { b in
                            convolveInBlocks(x.baseAddress!, g, weight: w.baseAddress!, bias: b.baseAddress!,
                                             out: pointer, keeping: cols.pointer)
                        }
                    } else {
                        convolveInBlocks(x.baseAddress!, g, weight: w.baseAddress!, bias: nil, out: pointer,
                                         keeping: cols.pointer)
                    }
                }
            }
        }

        let x = self
        var inputs = [x, weight]
        if let bias { inputs.append(bias) }
        return Tensor.record("conv2d", shape: [g.batch, g.outChannels, outHeight, outWidth], data: out, inputs: inputs) { outGrad in
            // dy [O, N·Ho·Wo] from outGrad [N, O, Ho·Wo]
            let dy = ScratchBuffer.acquire(g.outChannels * g.columns)
            outGrad.withUnsafeBufferPointer {
                swapOuterAxes($0.baseAddress!, dy.pointer, outer: g.batch, inner: g.outChannels, plane: g.outPixels)
            }
            if weight.requiresGrad {
                // dW [O, C·k·k] = dy · colsᵀ
                let grad = uninitializedFloats(weight.count) { pointer in
                    gemm(transposeA: false, transposeB: true, m: g.outChannels, n: g.patchSize, k: g.columns,
                         a: dy.pointer, b: cols.pointer, c: pointer)
                }
                weight.accumulateGrad(grad)
            }
            if let bias, bias.requiresGrad {
                var grad = [Float](repeating: 0, count: g.outChannels)
                for o in 0..<g.outChannels { grad[o] = vectorSum(dy.pointer + o * g.columns, g.columns) }
                bias.accumulateGrad(grad)
            }
            if x.requiresGrad {
                // dcols [C·k·k, block columns] = Wᵀ · dy, folded back onto the
                // input a block of samples at a time, while it is in cache.
                let dcols = ScratchBuffer.acquire(g.patchSize * g.samplesPerBlock * g.outPixels)
                let grad = uninitializedFloats(x.count) { dx in
                    weight.data.withUnsafeBufferPointer { w in
                        g.forEachBlock { start, block in
                            gemmStrided(
                                transposeA: true, transposeB: false, m: g.patchSize, n: block.columns,
                                k: g.outChannels, a: w.baseAddress!, lda: g.patchSize,
                                b: dy.pointer + start * g.outPixels, ldb: g.columns,
                                c: dcols.pointer, ldc: block.columns)
                            col2im(dcols.pointer, block, dx + start * g.inChannels * g.height * g.width)
                        }
                    }
                }
                x.accumulateGrad(grad)
            }
        }
    }
}
