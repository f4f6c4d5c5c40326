// Nearest-neighbour 2x upsampling and average pooling over NCHW tensors.

extension Tensor {
    /// Repeats every pixel of `[N, C, H, W]` into a 2×2 block:
    /// `[N, C, 2H, 2W]`.
    public func upsampleNearest2x() -> Tensor {
        precondition(rank == 4, "upsampleNearest2x: input must be [N, C, H, W], got \(shape)")
        let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
        let out = uninitializedFloats(planes * 4 * h * w) { pointer in
            data.withUnsafeBufferPointer { input in
                let x = SharedConstPointer(input.baseAddress!), o = SharedPointer(pointer)
                parallelFor(planes, cost: 4 * h * w) { range in
                    for plane in range {
                        for y in 0..<h {
                            let source = x.base + (plane * h + y) * w
                            let top = o.base + (plane * 2 * h + 2 * y) * 2 * w
                            for xIndex in 0..<w {
                                let value = source[xIndex]
                                top[2 * xIndex] = value
                                top[2 * xIndex + 1] = value
                            }
                            (top + 2 * w).update(from: top, count: 2 * w)
                        }
                    }
                }
            }
        }
        let input = self
        return Tensor.record("upsample_nearest_2x", shape: [shape[0], shape[1], 2 * h, 2 * w], data: out, inputs: [self]) { outGrad in
            // Each input pixel receives the sum of its 2×2 block.
            let grad = uninitializedFloats(input.count) { pointer in
                outGrad.withUnsafeBufferPointer { dyBuffer in
                    let dy = SharedConstPointer(dyBuffer.baseAddress!), g = SharedPointer(pointer)
                    parallelFor(planes, cost: 4 * h * w) { range in
                        for plane in range {
                            for y in 0..<h {
                                let top = dy.base + (plane * 2 * h + 2 * y) * 2 * w
                                let bottom = top + 2 * w
                                for xIndex in 0..<w {
                                    g[(plane * h + y) * w + xIndex] =
                                        top[2 * xIndex] + top[2 * xIndex + 1] + bottom[2 * xIndex] + bottom[2 * xIndex + 1]
                                }
                            }
                        }
                    }
                }
            }
            input.accumulateGrad(grad)
        }
    }

    /// Mean over non-overlapping `kernel × kernel` windows of
    /// `[N, C, H, W]`; `H` and `W` must be multiples of `kernel`.
    public func avgPool2d(kernel: Int) -> Tensor {
        precondition(rank == 4, "avgPool2d: input must be [N, C, H, W], got \(shape)")
        precondition(
            kernel >= 1 && shape[2] % kernel == 0 && shape[3] % kernel == 0,
            "avgPool2d: kernel \(kernel) must divide the spatial size of \(shape)")
        let planes = shape[0] * shape[1], h = shape[2], w = shape[3]
        let oh = h / kernel, ow = w / kernel
        let scale = 1 / Float(kernel * kernel)
        var out = [Float](repeating: 0, count: planes * oh * ow)
        data.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { outBuffer in
                let x = SharedConstPointer(input.baseAddress!), o = SharedPointer(outBuffer.baseAddress!)
                parallelFor(planes, cost: h * w) { range in
                    for plane in range {
                        for y in 0..<h {
                            let source = x.base + (plane * h + y) * w
                            let destination = o.base + (plane * oh + y / kernel) * ow
                            for xIndex in 0..<w { destination[xIndex / kernel] += source[xIndex] * scale }
                        }
                    }
                }
            }
        }
        let input = self
        return Tensor.record("avg_pool2d", shape: [shape[0], shape[1], oh, ow], data: out, inputs: [self]) { outGrad in
            let grad = uninitializedFloats(input.count) { pointer in
                outGrad.withUnsafeBufferPointer { dyBuffer in
                    let dy = SharedConstPointer(dyBuffer.baseAddress!), g = SharedPointer(pointer)
                    parallelFor(planes, cost: h * w) { range in
                        for plane in range {
                            for y in 0..<h {
                                let source = dy.base + (plane * oh + y / kernel) * ow
                                let destination = g.base + (plane * h + y) * w
                                for xIndex in 0..<w { destination[xIndex] = source[xIndex / kernel] * scale }
                            }
                        }
                    }
                }
            }
            input.accumulateGrad(grad)
        }
    }
}
