import TensorCore

extension RGBImage {
    /// Returns the image as a `[3, H, W]` tensor with each channel value v mapped to
    /// v / 127.5 - 1, so 0 becomes -1 and 255 becomes 1.
    public func tensor() -> Tensor {
        let planeSize = width * height
        var values = [Float](repeating: 0, count: 3 * planeSize)
        for index in 0..<planeSize {
            for channel in 0..<3 {
                values[channel * planeSize + index] = Float(pixels[index * 3 + channel]) / 127.5 - 1
            }
        }
        return Tensor(shape: [3, height, width], data: values)
    }

    /// Converts a `[3, H, W]` or `[1, 3, H, W]` tensor in [-1, 1] back to
    /// 8-bit pixels with v = round((x + 1) * 127.5). Values outside [-1, 1],
    /// as a model's output may contain, are clamped; NaN becomes 0.
    public init(tensor: Tensor) throws {
        let shape = tensor.shape
        let isImageShape = shape.count == 3 && shape[0] == 3
        let isSingleBatchShape = shape.count == 4 && shape[0] == 1 && shape[1] == 3
        guard isImageShape || isSingleBatchShape else {
            throw ImageIOError(
                .invalidArgument, path: "<tensor>",
                problem: "expected a tensor of shape [3, H, W] or [1, 3, H, W], got \(shape)")
        }
        let height = shape[shape.count - 2]
        let width = shape[shape.count - 1]
        let planeSize = width * height
        var pixels = [UInt8](repeating: 0, count: 3 * planeSize)
        let values = tensor.data
        for index in 0..<planeSize {
            for channel in 0..<3 {
                let value = values[channel * planeSize + index]
                let scaled = value.isNaN ? 0 : ((value + 1) * 127.5).rounded()
                pixels[index * 3 + channel] = UInt8(min(max(scaled, 0), 255))
            }
        }
        self.init(width: width, height: height, pixels: pixels)
    }
}

/// Stacks images of one size into a `[B, 3, H, W]` tensor in [-1, 1].
public func batchTensor(_ images: [RGBImage]) -> Tensor {
    precondition(!images.isEmpty, "batchTensor: no images")
    let width = images[0].width
    let height = images[0].height
    var values = [Float]()
    values.reserveCapacity(images.count * 3 * width * height)
    for (index, image) in images.enumerated() {
        precondition(
            image.width == width && image.height == height,
            "batchTensor: image \(index) is \(image.width)x\(image.height), expected \(width)x\(height)")
        values.append(contentsOf: image.tensor().data)
    }
    return Tensor(shape: [images.count, 3, height, width], data: values)
}
