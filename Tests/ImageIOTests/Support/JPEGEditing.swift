/// Byte-level edits of encoded JPEGs for decoder tests.
enum JPEGEditing {
    /// Offset and marker byte of each segment before the first SOS, in order.
    /// Every segment starts with 0xFF, the marker and a 2-byte length.
    static func segments(_ jpeg: [UInt8]) -> [(offset: Int, marker: UInt8)] {
        var result: [(Int, UInt8)] = []
        var offset = 2
        while offset + 4 <= jpeg.count, jpeg[offset] == 0xFF {
            let marker = jpeg[offset + 1]
            result.append((offset, marker))
            if marker == 0xDA { break }
            let length = Int(jpeg[offset + 2]) << 8 | Int(jpeg[offset + 3])
            offset += 2 + length
        }
        return result
    }

    /// Returns `jpeg` with the size fields of its SOF0 or SOF2 segment set.
    static func settingFrameSize(_ jpeg: [UInt8], width: Int, height: Int) -> [UInt8] {
        guard let frame = segments(jpeg).first(where: { $0.marker == 0xC0 || $0.marker == 0xC2 }) else {
            preconditionFailure("JPEGEditing: no SOF0 or SOF2 segment")
        }
        var edited = jpeg
        // Length (2), precision (1), then height and width, big-endian.
        edited[frame.offset + 5] = UInt8(height >> 8)
        edited[frame.offset + 6] = UInt8(height & 0xFF)
        edited[frame.offset + 7] = UInt8(width >> 8)
        edited[frame.offset + 8] = UInt8(width & 0xFF)
        return edited
    }

    /// Returns `jpeg` without its segments that have `marker`.
    static func removingSegments(_ jpeg: [UInt8], marker: UInt8) -> [UInt8] {
        var edited = jpeg
        for segment in segments(jpeg).reversed() where segment.marker == marker {
            let length = Int(jpeg[segment.offset + 2]) << 8 | Int(jpeg[segment.offset + 3])
            edited.removeSubrange(segment.offset..<(segment.offset + 2 + length))
        }
        return edited
    }

    /// Returns `jpeg` with an APP1 Exif segment whose IFD0 holds only the
    /// Orientation tag, inserted after SOI and any APP0 segment.
    static func insertingOrientation(_ jpeg: [UInt8], _ value: Int, littleEndian: Bool) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] {
            littleEndian ? [UInt8(v & 0xFF), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xFF)]
        }
        func u32(_ v: Int) -> [UInt8] {
            littleEndian ? u16(v & 0xFFFF) + u16(v >> 16) : u16(v >> 16) + u16(v & 0xFFFF)
        }
        let byteOrder: [UInt8] = littleEndian ? [0x49, 0x49] : [0x4D, 0x4D]
        // TIFF header, IFD0 at offset 8 with one entry: Orientation, SHORT, count 1.
        let tiff = byteOrder + u16(42) + u32(8) + u16(1) + u16(0x0112) + u16(3) + u32(1) + u16(value) + u16(0) + u32(0)
        let payload = Array("Exif".utf8) + [0, 0] + tiff
        let segment: [UInt8] = [0xFF, 0xE1, UInt8((payload.count + 2) >> 8), UInt8((payload.count + 2) & 0xFF)] + payload

        var insertAt = 2
        if let app0 = segments(jpeg).first(where: { $0.marker == 0xE0 }) {
            insertAt = app0.offset + 2 + (Int(jpeg[app0.offset + 2]) << 8 | Int(jpeg[app0.offset + 3]))
        }
        var edited = jpeg
        edited.insert(contentsOf: segment, at: insertAt)
        return edited
    }
}
