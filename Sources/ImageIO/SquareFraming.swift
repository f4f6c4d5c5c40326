/// The method that makes a non-square image square before resizing.
public enum SquareFraming: String, Sendable {
    /// Keep the central square and drop the ends of the longer side.
    case centerCrop
    /// Keep every pixel and fill the ends of the shorter side with a colour.
    case pad
}

extension RGBImage {
    /// Returns the central `side` x `side` square, where `side` is the shorter side.
    /// When the difference is odd, the extra pixel is dropped at the right or
    /// bottom.
    public func centerCroppedToSquare() -> RGBImage {
        let side = min(width, height)
        return cropped(x: (width - side) / 2, y: (height - side) / 2, width: side, height: side)
    }

    /// Returns the image centred on a `side` x `side` square of `color`, where `side`
    /// is the longer side. When the difference is odd, the extra padding
    /// goes to the right or bottom.
    public func paddedToSquare(color: RGBColor) -> RGBImage {
        let side = max(width, height)
        var square = RGBImage(width: side, height: side, color: color)
        let left = (side - width) / 2
        let top = (side - height) / 2
        let rowBytes = width * 3
        for y in 0..<height {
            let from = y * rowBytes
            let to = ((top + y) * side + left) * 3
            square.pixels.replaceSubrange(to..<(to + rowBytes), with: pixels[from..<(from + rowBytes)])
        }
        return square
    }

    /// Returns the rectangle with top-left corner (`x`, `y`) and the given size, which
    /// must lie inside the image.
    public func cropped(x: Int, y: Int, width cropWidth: Int, height cropHeight: Int) -> RGBImage {
        precondition(
            x >= 0 && y >= 0 && cropWidth >= 0 && cropHeight >= 0 && x + cropWidth <= width && y + cropHeight <= height,
            "cropped: rectangle at (\(x), \(y)) of \(cropWidth)x\(cropHeight) lies outside the \(width)x\(height) image")
        var output = [UInt8]()
        output.reserveCapacity(cropWidth * cropHeight * 3)
        for row in y..<(y + cropHeight) {
            let start = (row * width + x) * 3
            output.append(contentsOf: pixels[start..<(start + cropWidth * 3)])
        }
        return RGBImage(width: cropWidth, height: cropHeight, pixels: output)
    }
}
