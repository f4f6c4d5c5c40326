extension RGBImage {
    /// Returns the mirror image about the vertical axis, the standard flip
    /// augmentation for faces and animals.
    public func flippedHorizontally() -> RGBImage {
        var output = [UInt8](repeating: 0, count: pixels.count)
        for y in 0..<height {
            let row = y * width * 3
            for x in 0..<width {
                let from = row + x * 3
                let to = row + (width - 1 - x) * 3
                output[to] = pixels[from]
                output[to + 1] = pixels[from + 1]
                output[to + 2] = pixels[from + 2]
            }
        }
        return RGBImage(width: width, height: height, pixels: output)
    }
}
