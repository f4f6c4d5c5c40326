import Foundation
import ImageIO
import TensorCore

/// Random views of an image for training the feature nets: random resized
/// crop, horizontal flip, colour jitter, grayscale and Gaussian blur, in that
/// order, as in SimCLR and DINO.
///
/// A view is `[3, S, S]` in [-1, 1] with `S = outputSize`. Every draw comes
/// from the generator passed in, so a seed fixes the views.
public struct ViewAugmentation: Sendable {
    /// Side S of the view in pixels.
    public var outputSize: Int
    /// Range of the crop's area as a fraction of the image's area.
    public var cropScale: ClosedRange<Float>
    /// Range of the crop's width / height, drawn uniformly in log space.
    public var cropAspectRatio: ClosedRange<Float> = 0.75...(4.0 / 3.0)
    /// Probability of mirroring the view left to right.
    public var flipProbability: Float = 0.5
    /// Probability of applying the colour jitter at all.
    public var jitterProbability: Float = 0.8
    /// Maximum relative change of brightness, contrast and saturation: each
    /// factor is drawn from `[1 - s, 1 + s]`.
    public var brightness: Float = 0.4
    public var contrast: Float = 0.4
    public var saturation: Float = 0.4
    /// Probability of replacing the colours by their luma (ITU-R BT.601).
    public var grayscaleProbability: Float = 0.2
    /// Probability of a Gaussian blur.
    public var blurProbability: Float = 0.5
    /// Range of the blur's standard deviation, in output pixels.
    public var blurSigma: ClosedRange<Float> = 0.1...1.0

    public init(outputSize: Int, cropScale: ClosedRange<Float>) {
        precondition(outputSize > 0, "ViewAugmentation: output size \(outputSize) must be positive")
        precondition(
            cropScale.lowerBound > 0 && cropScale.upperBound <= 1,
            "ViewAugmentation: crop scale \(cropScale) must lie in (0, 1]")
        self.outputSize = outputSize
        self.cropScale = cropScale
    }

    /// Draws a random view of `image`: `[3, S, S]` values in [-1, 1], channel-major.
    public func view(of image: RGBImage, rng: inout SeededGenerator) -> [Float] {
        let crop = randomCrop(width: image.width, height: image.height, rng: &rng)
        let flips = rng.uniform() < flipProbability
        var planes = resample(image, crop: crop, flips: flips)

        if rng.uniform() < jitterProbability {
            jitterColours(&planes, rng: &rng)
        }
        if rng.uniform() < grayscaleProbability {
            convertToGrayscale(&planes)
        }
        if rng.uniform() < blurProbability {
            let sigma = rng.uniform(blurSigma.lowerBound, blurSigma.upperBound)
            gaussianBlur(&planes, sigma: sigma)
        }

        for index in planes.indices {
            planes[index] = min(max(planes[index], 0), 1) * 2 - 1
        }
        return planes
    }

    /// Draws one random view of each of `images`, as `[B, 3, S, S]`.
    public func views(of images: [RGBImage], rng: inout SeededGenerator) -> Tensor {
        var values: [Float] = []
        values.reserveCapacity(images.count * 3 * outputSize * outputSize)
        for image in images {
            values += view(of: image, rng: &rng)
        }
        return Tensor(shape: [images.count, 3, outputSize, outputSize], data: values)
    }

    /// Draws a crop rectangle in source pixels (fractional) as torchvision's
    /// `RandomResizedCrop` does: up to 10 tries at a random area and aspect
    /// ratio, then the whole image.
    func randomCrop(width: Int, height: Int, rng: inout SeededGenerator) -> (x: Float, y: Float, width: Float, height: Float) {
        let area = Float(width * height)
        let logRatios = (Foundation.log(cropAspectRatio.lowerBound), Foundation.log(cropAspectRatio.upperBound))
        for _ in 0..<10 {
            let targetArea = area * rng.uniform(cropScale.lowerBound, cropScale.upperBound)
            let ratio = Foundation.exp(rng.uniform(logRatios.0, logRatios.1))
            let cropWidth = (targetArea * ratio).squareRoot()
            let cropHeight = (targetArea / ratio).squareRoot()
            if cropWidth <= Float(width) && cropHeight <= Float(height) {
                let x = rng.uniform() * (Float(width) - cropWidth)
                let y = rng.uniform() * (Float(height) - cropHeight)
                return (x, y, cropWidth, cropHeight)
            }
        }
        return (0, 0, Float(width), Float(height))
    }

    /// Resamples the crop bilinearly to `[3, S, S]` values in [0, 1].
    func resample(_ image: RGBImage, crop: (x: Float, y: Float, width: Float, height: Float), flips: Bool) -> [Float] {
        let size = outputSize
        let plane = size * size
        var planes = [Float](repeating: 0, count: 3 * plane)
        let stepX = crop.width / Float(size)
        let stepY = crop.height / Float(size)
        let maxX = Float(image.width - 1)
        let maxY = Float(image.height - 1)
        image.pixels.withUnsafeBufferPointer { pixels in
            for oy in 0..<size {
                let sourceY = min(max(crop.y + (Float(oy) + 0.5) * stepY - 0.5, 0), maxY)
                let y0 = Int(sourceY)
                let y1 = min(y0 + 1, image.height - 1)
                let fy = sourceY - Float(y0)
                for ox in 0..<size {
                    let sourceX = min(max(crop.x + (Float(ox) + 0.5) * stepX - 0.5, 0), maxX)
                    let x0 = Int(sourceX)
                    let x1 = min(x0 + 1, image.width - 1)
                    let fx = sourceX - Float(x0)
                    let target = oy * size + (flips ? size - 1 - ox : ox)
                    for channel in 0..<3 {
                        let topLeft = Float(pixels[(y0 * image.width + x0) * 3 + channel])
                        let topRight = Float(pixels[(y0 * image.width + x1) * 3 + channel])
                        let bottomLeft = Float(pixels[(y1 * image.width + x0) * 3 + channel])
                        let bottomRight = Float(pixels[(y1 * image.width + x1) * 3 + channel])
                        let top = topLeft + (topRight - topLeft) * fx
                        let bottom = bottomLeft + (bottomRight - bottomLeft) * fx
                        planes[channel * plane + target] = (top + (bottom - top) * fy) / 255
                    }
                }
            }
        }
        return planes
    }

    /// Scales brightness, contrast and saturation by random factors in a
    /// random order, clamping to [0, 1] after each, as torchvision's
    /// `ColorJitter` does. Hue is left alone, because fur and skin colour
    /// carry identity.
    func jitterColours(_ planes: inout [Float], rng: inout SeededGenerator) {
        var order = [0, 1, 2]
        rng.shuffle(&order)
        let factors = [
            rng.uniform(1 - brightness, 1 + brightness),
            rng.uniform(1 - contrast, 1 + contrast),
            rng.uniform(1 - saturation, 1 + saturation),
        ]
        let plane = planes.count / 3
        for adjustment in order {
            let factor = factors[adjustment]
            switch adjustment {
            case 0:
                for index in planes.indices { planes[index] = min(max(planes[index] * factor, 0), 1) }
            case 1:
                var lumaSum: Float = 0
                for index in 0..<plane { lumaSum += luma(planes, index, plane) }
                let mean = lumaSum / Float(plane)
                for index in planes.indices { planes[index] = min(max(mean + (planes[index] - mean) * factor, 0), 1) }
            default:
                for index in 0..<plane {
                    let gray = luma(planes, index, plane)
                    for channel in 0..<3 {
                        let value = planes[channel * plane + index]
                        planes[channel * plane + index] = min(max(gray + (value - gray) * factor, 0), 1)
                    }
                }
            }
        }
    }

    func convertToGrayscale(_ planes: inout [Float]) {
        let plane = planes.count / 3
        for index in 0..<plane {
            let gray = luma(planes, index, plane)
            for channel in 0..<3 { planes[channel * plane + index] = gray }
        }
    }

    /// Blurs with a separable Gaussian kernel of radius `ceil(2 sigma)`. Edges
    /// repeat the border pixel.
    func gaussianBlur(_ planes: inout [Float], sigma: Float) {
        let radius = max(1, Int((2 * sigma).rounded(.up)))
        var kernel = (-radius...radius).map { offset in Foundation.exp(-Float(offset * offset) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        kernel = kernel.map { $0 / total }

        let size = outputSize
        let plane = size * size
        var scratch = [Float](repeating: 0, count: plane)
        for channel in 0..<3 {
            let base = channel * plane
            for y in 0..<size {
                for x in 0..<size {
                    var sum: Float = 0
                    for (tap, weight) in kernel.enumerated() {
                        let sourceX = min(max(x + tap - radius, 0), size - 1)
                        sum += weight * planes[base + y * size + sourceX]
                    }
                    scratch[y * size + x] = sum
                }
            }
            for y in 0..<size {
                for x in 0..<size {
                    var sum: Float = 0
                    for (tap, weight) in kernel.enumerated() {
                        let sourceY = min(max(y + tap - radius, 0), size - 1)
                        sum += weight * scratch[sourceY * size + x]
                    }
                    planes[base + y * size + x] = sum
                }
            }
        }
    }
}

/// Luma (ITU-R BT.601 weights) of pixel `index` in channel-major planes.
@inline(__always)
private func luma(_ planes: [Float], _ index: Int, _ plane: Int) -> Float {
    0.299 * planes[index] + 0.587 * planes[plane + index] + 0.114 * planes[2 * plane + index]
}
