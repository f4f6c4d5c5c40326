/// The EXIF Orientation tag (0x0112): how the stored pixels must be
/// transformed for display. Cameras store the sensor's rows as read and set
/// this tag instead of rotating the pixels.
///
/// The case names give the transform from stored to displayed image.
/// Rotations are clockwise.
public enum ExifOrientation: Int, Sendable, CaseIterable {
    case identity = 1
    case mirrorHorizontal = 2
    case rotate180 = 3
    case mirrorVertical = 4
    /// Mirror across the main diagonal (top-left to bottom-right).
    case transpose = 5
    case rotate90 = 6
    /// Mirror across the anti-diagonal (top-right to bottom-left).
    case transverse = 7
    case rotate270 = 8

    /// Whether the displayed image has width and height swapped.
    public var swapsWidthAndHeight: Bool {
        rawValue >= 5
    }

    /// Reads the Orientation tag from the first image directory (IFD0) of an
    /// EXIF TIFF structure, in either byte order. Returns nil when the tag
    /// is absent, malformed or outside 1...8.
    public static func parse(exifPayload bytes: [UInt8]) -> ExifOrientation? {
        guard bytes.count >= 8 else { return nil }
        let isLittleEndian: Bool
        switch (bytes[0], bytes[1]) {
        case (0x49, 0x49): isLittleEndian = true  // "II"
        case (0x4D, 0x4D): isLittleEndian = false  // "MM"
        default: return nil
        }

        func readUInt16(_ offset: Int) -> Int? {
            guard offset >= 0, offset + 2 <= bytes.count else { return nil }
            let first = Int(bytes[offset])
            let second = Int(bytes[offset + 1])
            return isLittleEndian ? first | second << 8 : first << 8 | second
        }
        func readUInt32(_ offset: Int) -> Int? {
            guard let high = readUInt16(isLittleEndian ? offset + 2 : offset),
                let low = readUInt16(isLittleEndian ? offset : offset + 2)
            else { return nil }
            return high << 16 | low
        }

        guard readUInt16(2) == 42, let directoryOffset = readUInt32(4), let entryCount = readUInt16(directoryOffset)
        else { return nil }

        // Each entry: tag (2 bytes), type (2), count (4), value or offset (4).
        let orientationTag = 0x0112
        let shortType = 3
        for index in 0..<entryCount {
            let entry = directoryOffset + 2 + index * 12
            guard let tag = readUInt16(entry) else { return nil }
            guard tag == orientationTag else { continue }
            guard readUInt16(entry + 2) == shortType, readUInt32(entry + 4) == 1, let value = readUInt16(entry + 8)
            else { return nil }
            return ExifOrientation(rawValue: value)
        }
        return nil
    }

    /// Returns `image` transformed from stored to displayed orientation.
    public func apply(to image: RGBImage) -> RGBImage {
        if self == .identity { return image }

        let storedWidth = image.width
        let storedHeight = image.height
        let outputWidth = swapsWidthAndHeight ? storedHeight : storedWidth
        let outputHeight = swapsWidthAndHeight ? storedWidth : storedHeight
        var output = [UInt8](repeating: 0, count: image.pixels.count)

        image.pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                for outputY in 0..<outputHeight {
                    for outputX in 0..<outputWidth {
                        // The stored pixel that is displayed at (outputX, outputY).
                        let (x, y) = storedCoordinates(
                            outputX: outputX, outputY: outputY, storedWidth: storedWidth, storedHeight: storedHeight)
                        let from = (y * storedWidth + x) * 3
                        let to = (outputY * outputWidth + outputX) * 3
                        destination[to] = source[from]
                        destination[to + 1] = source[from + 1]
                        destination[to + 2] = source[from + 2]
                    }
                }
            }
        }
        return RGBImage(width: outputWidth, height: outputHeight, pixels: output)
    }

    @inline(__always)
    private func storedCoordinates(outputX: Int, outputY: Int, storedWidth: Int, storedHeight: Int) -> (Int, Int) {
        switch self {
        case .identity: return (outputX, outputY)
        case .mirrorHorizontal: return (storedWidth - 1 - outputX, outputY)
        case .rotate180: return (storedWidth - 1 - outputX, storedHeight - 1 - outputY)
        case .mirrorVertical: return (outputX, storedHeight - 1 - outputY)
        case .transpose: return (outputY, outputX)
        case .rotate90: return (outputY, storedHeight - 1 - outputX)
        case .transverse: return (storedWidth - 1 - outputY, storedHeight - 1 - outputX)
        case .rotate270: return (storedWidth - 1 - outputY, outputX)
        }
    }
}
