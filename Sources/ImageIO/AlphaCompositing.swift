/// Composites straight (non-premultiplied) RGBA pixels onto an opaque
/// background and returns RGB: out = (colour * alpha + background * (255 - alpha)) / 255,
/// rounded. The blend is done on the stored sRGB values, not in linear
/// light, as most image editors do.
func compositeOntoBackground(rgba: UnsafeBufferPointer<UInt8>, pixelCount: Int, background: RGBColor) -> [UInt8] {
    precondition(rgba.count == pixelCount * 4, "compositeOntoBackground: \(rgba.count) bytes for \(pixelCount) pixels")
    let backgroundChannels = [UInt32(background.red), UInt32(background.green), UInt32(background.blue)]
    var rgb = [UInt8](repeating: 0, count: pixelCount * 3)
    rgb.withUnsafeMutableBufferPointer { output in
        for pixel in 0..<pixelCount {
            let alpha = UInt32(rgba[pixel * 4 + 3])
            for channel in 0..<3 {
                let color = UInt32(rgba[pixel * 4 + channel])
                let blended = color * alpha + backgroundChannels[channel] * (255 - alpha)
                output[pixel * 3 + channel] = UInt8((blended + 127) / 255)
            }
        }
    }
    return rgb
}
