/// Resizing of `RGBImage`, one axis at a time.
///
/// An axis that shrinks uses area averaging: each output pixel is the mean of
/// the source pixels it covers, with fractional weights at the edges, which
/// avoids the aliasing of point sampling. An axis that grows uses bilinear
/// interpolation between pixel centres, clamped at the borders.
extension RGBImage {
    /// Returns the image resized to `width` x `height`.
    public func resized(width targetWidth: Int, height targetHeight: Int) -> RGBImage {
        precondition(targetWidth > 0 && targetHeight > 0, "resized: target size \(targetWidth)x\(targetHeight) must be positive")
        precondition(width > 0 && height > 0, "resized: cannot resize an empty \(width)x\(height) image")
        if targetWidth == width && targetHeight == height { return self }

        let horizontal = ResamplingWeights(sourceCount: width, targetCount: targetWidth)
        let vertical = ResamplingWeights(sourceCount: height, targetCount: targetHeight)

        // Pass 1, along rows: [height, width, 3] -> [height, targetWidth, 3].
        var rows = [Float](repeating: 0, count: height * targetWidth * 3)
        pixels.withUnsafeBufferPointer { source in
            rows.withUnsafeMutableBufferPointer { destination in
                for y in 0..<height {
                    let sourceRow = y * width * 3
                    let destinationRow = y * targetWidth * 3
                    for x in 0..<targetWidth {
                        var red: Float = 0, green: Float = 0, blue: Float = 0
                        for tap in horizontal.taps(of: x) {
                            let offset = sourceRow + horizontal.indices[tap] * 3
                            let weight = horizontal.weights[tap]
                            red += weight * Float(source[offset])
                            green += weight * Float(source[offset + 1])
                            blue += weight * Float(source[offset + 2])
                        }
                        destination[destinationRow + x * 3] = red
                        destination[destinationRow + x * 3 + 1] = green
                        destination[destinationRow + x * 3 + 2] = blue
                    }
                }
            }
        }

        // Pass 2, along columns: [height, targetWidth, 3] -> [targetHeight, targetWidth, 3].
        let rowLength = targetWidth * 3
        var output = [UInt8](repeating: 0, count: targetHeight * rowLength)
        rows.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                var accumulator = [Float](repeating: 0, count: rowLength)
                for y in 0..<targetHeight {
                    for index in 0..<rowLength { accumulator[index] = 0 }
                    for tap in vertical.taps(of: y) {
                        let sourceRow = vertical.indices[tap] * rowLength
                        let weight = vertical.weights[tap]
                        for index in 0..<rowLength {
                            accumulator[index] += weight * source[sourceRow + index]
                        }
                    }
                    for index in 0..<rowLength {
                        destination[y * rowLength + index] = UInt8(clamping: Int((accumulator[index] + 0.5).rounded(.down)))
                    }
                }
            }
        }
        return RGBImage(width: targetWidth, height: targetHeight, pixels: output)
    }

    /// Returns the image resized to `side` x `side`.
    public func resized(side: Int) -> RGBImage {
        resized(width: side, height: side)
    }
}

/// Source indices and weights of each output pixel along one axis, stored
/// flat: output pixel `i` uses taps `starts[i]..<starts[i + 1]`.
struct ResamplingWeights {
    var indices: [Int] = []
    var weights: [Float] = []
    var starts: [Int] = [0]

    init(sourceCount: Int, targetCount: Int) {
        if targetCount < sourceCount {
            buildAreaAverage(sourceCount: sourceCount, targetCount: targetCount)
        } else {
            buildBilinear(sourceCount: sourceCount, targetCount: targetCount)
        }
    }

    func taps(of output: Int) -> Range<Int> {
        starts[output]..<starts[output + 1]
    }

    /// Output pixel i covers the source interval [i * scale, (i + 1) * scale).
    /// Each source pixel j it overlaps gets weight overlap / scale.
    private mutating func buildAreaAverage(sourceCount: Int, targetCount: Int) {
        let scale = Double(sourceCount) / Double(targetCount)
        for output in 0..<targetCount {
            let begin = Double(output) * scale
            let end = Double(output + 1) * scale
            var source = Int(begin.rounded(.down))
            while source < sourceCount && Double(source) < end {
                let overlap = min(end, Double(source + 1)) - max(begin, Double(source))
                if overlap > 1e-9 {
                    indices.append(source)
                    weights.append(Float(overlap / scale))
                }
                source += 1
            }
            starts.append(indices.count)
        }
    }

    /// Output pixel centre i + 0.5 maps to source position
    /// (i + 0.5) * scale - 0.5, clamped to the first and last pixel.
    private mutating func buildBilinear(sourceCount: Int, targetCount: Int) {
        let scale = Double(sourceCount) / Double(targetCount)
        for output in 0..<targetCount {
            let position = min(max((Double(output) + 0.5) * scale - 0.5, 0), Double(sourceCount - 1))
            let left = Int(position.rounded(.down))
            let fraction = position - Double(left)
            indices.append(left)
            weights.append(Float(1 - fraction))
            if fraction > 1e-9 && left + 1 < sourceCount {
                indices.append(left + 1)
                weights.append(Float(fraction))
            }
            starts.append(indices.count)
        }
    }
}
