/// A PNG written byte by byte for decoder tests. The image data goes into
/// uncompressed ("stored") deflate blocks, so any colour type, bit depth,
/// palette, tRNS chunk and Adam7 interlacing can be produced without libpng,
/// and damaged files can be assembled chunk by chunk.
struct PNGFixture {
    enum ColorType: UInt8 {
        case gray = 0
        case rgb = 2
        case palette = 3
        case grayAlpha = 4
        case rgba = 6

        var channels: Int {
            switch self {
            case .gray, .palette: return 1
            case .grayAlpha: return 2
            case .rgb: return 3
            case .rgba: return 4
            }
        }
    }

    var width: Int
    var height: Int
    var colorType: ColorType
    var bitDepth: Int
    /// Sample values in row-major order, `channels` per pixel, each below
    /// 2^bitDepth. Palette images hold palette indices.
    var samples: [Int]
    var interlaced = false
    /// PLTE entries for palette images.
    var palette: [(UInt8, UInt8, UInt8)] = []
    /// Raw payload of a tRNS chunk, or nil for none.
    var transparency: [UInt8]? = nil

    /// Returns the complete file.
    func encoded() -> [UInt8] {
        precondition(samples.count == width * height * colorType.channels, "PNGFixture: wrong sample count")
        var file = PNGFixture.signature
        file += PNGFixture.chunk("IHDR", ihdrPayload(width: width, height: height))
        if !palette.isEmpty {
            file += PNGFixture.chunk("PLTE", palette.flatMap { [$0.0, $0.1, $0.2] })
        }
        if let transparency {
            file += PNGFixture.chunk("tRNS", transparency)
        }
        file += PNGFixture.chunk("IDAT", PNGFixture.zlibStored(scanlines()))
        file += PNGFixture.chunk("IEND", [])
        return file
    }

    /// IHDR payload with this fixture's colour type, bit depth and
    /// interlacing but any declared size, for header tests.
    func ihdrPayload(width: Int, height: Int) -> [UInt8] {
        PNGFixture.bigEndian32(width) + PNGFixture.bigEndian32(height)
            + [UInt8(bitDepth), colorType.rawValue, 0, 0, interlaced ? 1 : 0]
    }

    /// Filtered scanlines (filter type 0) of the whole image, or of the seven
    /// Adam7 passes in order when interlaced. Empty passes have no bytes.
    func scanlines() -> [UInt8] {
        guard interlaced else {
            return (0..<height).flatMap { y in [0] + packRow(y: y, xStart: 0, xStep: 1) }
        }
        let passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        var bytes: [UInt8] = []
        for (xStart, yStart, xStep, yStep) in passes where xStart < width && yStart < height {
            for y in stride(from: yStart, to: height, by: yStep) {
                bytes += [0] + packRow(y: y, xStart: xStart, xStep: xStep)
            }
        }
        return bytes
    }

    /// Samples of the pixels of row `y` at xStart, xStart + xStep, ...,
    /// packed most significant bits first and padded to a whole byte.
    private func packRow(y: Int, xStart: Int, xStep: Int) -> [UInt8] {
        let channels = colorType.channels
        var values: [Int] = []
        for x in stride(from: xStart, to: width, by: xStep) {
            let offset = (y * width + x) * channels
            values += samples[offset..<(offset + channels)]
        }
        switch bitDepth {
        case 16:
            return values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        case 8:
            return values.map { UInt8($0) }
        default:
            var bytes: [UInt8] = []
            var current = 0
            var filled = 0
            for value in values {
                current = (current << bitDepth) | value
                filled += bitDepth
                if filled == 8 {
                    bytes.append(UInt8(current))
                    current = 0
                    filled = 0
                }
            }
            if filled > 0 { bytes.append(UInt8(current << (8 - filled))) }
            return bytes
        }
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Returns a chunk: length, type, payload and CRC-32 of type and payload.
    static func chunk(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return bigEndian32(payload.count) + typeBytes + payload + bigEndian32(Int(crc32(typeBytes + payload)))
    }

    /// Returns a zlib stream of stored deflate blocks (at most 65535 bytes each).
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var stream: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let count = min(65535, data.count - offset)
            let isFinal = offset + count == data.count
            stream.append(isFinal ? 1 : 0)
            stream += [UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            stream += data[offset..<(offset + count)]
            offset += count
        } while offset < data.count
        return stream + bigEndian32(Int(adler32(data)))
    }

    static func bigEndian32(_ value: Int) -> [UInt8] {
        [UInt8((value >> 24) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
            }
        }
        return ~crc
    }

    static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return b << 16 | a
    }
}
