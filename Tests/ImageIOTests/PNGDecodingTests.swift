import ImageIO
import XCTest

final class PNGDecodingTests: XCTestCase {
    private func decode(_ fixture: PNGFixture, options: DecodeOptions = tinyImageOptions) throws -> DecodedImage {
        try ImageDecoder.decode(fixture.encoded(), path: "fixture.png", options: options)
    }

    /// Grey levels of the first row of a decoded grey image.
    private func grayRow(_ image: RGBImage) -> [Int] {
        (0..<image.width).map { Int(image[$0, 0].red) }
    }

    func testGray1BitExpandsToBlackAndWhite() throws {
        let fixture = PNGFixture(width: 8, height: 1, colorType: .gray, bitDepth: 1, samples: [0, 1, 1, 0, 1, 0, 0, 1])
        let decoded = try decode(fixture)
        XCTAssertEqual(grayRow(decoded.image), [0, 255, 255, 0, 255, 0, 0, 255])
        XCTAssertEqual(decoded.sourceBitDepth, 1)
        XCTAssertEqual(decoded.sourceColorModel, .gray)
    }

    func testGray2BitExpandsToFourLevels() throws {
        let fixture = PNGFixture(width: 5, height: 1, colorType: .gray, bitDepth: 2, samples: [0, 1, 2, 3, 1])
        XCTAssertEqual(grayRow(try decode(fixture).image), [0, 85, 170, 255, 85])
    }

    func testGray4BitExpandsToSixteenLevels() throws {
        let fixture = PNGFixture(width: 16, height: 1, colorType: .gray, bitDepth: 4, samples: Array(0..<16))
        XCTAssertEqual(grayRow(try decode(fixture).image), (0..<16).map { $0 * 17 })
    }

    func testGray8BitKeepsLevels() throws {
        let fixture = PNGFixture(width: 4, height: 1, colorType: .gray, bitDepth: 8, samples: [0, 1, 128, 255])
        let image = try decode(fixture).image
        XCTAssertEqual(grayRow(image), [0, 1, 128, 255])
        XCTAssertEqual(image[2, 0], RGBColor(gray: 128), "grey must be copied to all three channels")
    }

    func testGray16BitScalesWithRounding() throws {
        let fixture = PNGFixture(
            width: 6, height: 1, colorType: .gray, bitDepth: 16, samples: [0, 257, 65535, 32896, 128, 255])
        let row = grayRow(try decode(fixture).image)
        XCTAssertEqual(row[0], 0, "0 must become 0")
        XCTAssertEqual(row[1], 1, "257 must become 1")
        XCTAssertEqual(row[2], 255, "65535 must become 255")
        XCTAssertEqual(row[3], 128, "32896 (128 * 257) must become 128")
        XCTAssertEqual(row[4], 0, "128 is below half a level and must become 0")
        XCTAssertEqual(row[5], 1, "255 is above half a level and must become 1; keeping the high byte gives 0")
    }

    func testRGB8BitKeepsColors() throws {
        let fixture = PNGFixture(width: 2, height: 1, colorType: .rgb, bitDepth: 8, samples: [10, 20, 30, 250, 128, 0])
        let decoded = try decode(fixture)
        XCTAssertEqual(decoded.image[0, 0], RGBColor(red: 10, green: 20, blue: 30))
        XCTAssertEqual(decoded.image[1, 0], RGBColor(red: 250, green: 128, blue: 0))
        XCTAssertFalse(decoded.wasComposited)
    }

    func testRGB16BitScalesEachChannel() throws {
        let fixture = PNGFixture(width: 1, height: 1, colorType: .rgb, bitDepth: 16, samples: [65535, 257, 0])
        XCTAssertEqual(try decode(fixture).image[0, 0], RGBColor(red: 255, green: 1, blue: 0))
    }

    func testGrayAlpha8BitCompositesOntoWhite() throws {
        let fixture = PNGFixture(
            width: 3, height: 1, colorType: .grayAlpha, bitDepth: 8, samples: [200, 255, 200, 0, 100, 128])
        let decoded = try decode(fixture)
        XCTAssertEqual(decoded.image[0, 0], RGBColor(gray: 200), "opaque pixel keeps its grey")
        XCTAssertEqual(decoded.image[1, 0], RGBColor(gray: 255), "transparent pixel shows the white background")
        // (100 * 128 + 255 * 127) / 255 = 177.2
        XCTAssertEqual(decoded.image[2, 0], RGBColor(gray: 177), "half-transparent pixel blends with the background")
        XCTAssertTrue(decoded.wasComposited)
        XCTAssertEqual(decoded.image.pixels.count, 3 * 3, "alpha must not become a fourth channel")
    }

    func testGrayAlpha16BitComposites() throws {
        let fixture = PNGFixture(
            width: 2, height: 1, colorType: .grayAlpha, bitDepth: 16, samples: [65535, 65535, 0, 0])
        let image = try decode(fixture, options: DecodeOptions(minimumSide: 1, background: .black)).image
        XCTAssertEqual(image[0, 0], RGBColor(gray: 255), "opaque white stays white")
        XCTAssertEqual(image[1, 0], RGBColor(gray: 0), "transparent pixel shows the black background")
    }

    func testRGBA8BitCompositesOntoBackground() throws {
        let fixture = PNGFixture(
            width: 3, height: 1, colorType: .rgba, bitDepth: 8,
            samples: [255, 0, 0, 255, 0, 255, 0, 0, 0, 0, 255, 51])
        let background = RGBColor(red: 10, green: 20, blue: 30)
        let image = try decode(fixture, options: DecodeOptions(minimumSide: 1, background: background)).image
        XCTAssertEqual(image[0, 0], RGBColor(red: 255, green: 0, blue: 0), "opaque red stays red")
        XCTAssertEqual(image[1, 0], background, "fully transparent green shows the background")
        // Alpha 51 is 20 %: red 10 * 0.8 = 8, green 20 * 0.8 = 16, blue 255 * 0.2 + 30 * 0.8 = 75.
        XCTAssertEqual(image[2, 0], RGBColor(red: 8, green: 16, blue: 75), "20 % blue blends with the background")
    }

    func testRGBA16BitComposites() throws {
        let fixture = PNGFixture(
            width: 1, height: 1, colorType: .rgba, bitDepth: 16, samples: [65535, 0, 0, 32896])
        // Alpha 32896 scales to 128: red (255 * 128 + 255 * 127) / 255 = 255, green and blue 127.
        XCTAssertEqual(try decode(fixture).image[0, 0], RGBColor(red: 255, green: 127, blue: 127))
    }

    private let fourColorPalette: [(UInt8, UInt8, UInt8)] = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]

    func testPalette1BitLooksUpEntries() throws {
        let fixture = PNGFixture(
            width: 3, height: 1, colorType: .palette, bitDepth: 1, samples: [0, 1, 1],
            palette: [(9, 8, 7), (200, 100, 50)])
        let decoded = try decode(fixture)
        XCTAssertEqual(decoded.image[0, 0], RGBColor(red: 9, green: 8, blue: 7))
        XCTAssertEqual(decoded.image[1, 0], RGBColor(red: 200, green: 100, blue: 50))
        XCTAssertEqual(decoded.sourceColorModel, .palette)
    }

    func testPalette2BitLooksUpEntries() throws {
        let fixture = PNGFixture(
            width: 4, height: 1, colorType: .palette, bitDepth: 2, samples: [3, 2, 1, 0], palette: fourColorPalette)
        let image = try decode(fixture).image
        XCTAssertEqual(image[0, 0], RGBColor(red: 0, green: 0, blue: 255))
        XCTAssertEqual(image[3, 0], RGBColor(red: 0, green: 0, blue: 0))
    }

    func testPalette4BitLooksUpEntries() throws {
        let palette: [(UInt8, UInt8, UInt8)] = (0..<16).map { (index: Int) in
            (UInt8(index * 16), UInt8(255 - index * 16), 7)
        }
        let fixture = PNGFixture(
            width: 3, height: 1, colorType: .palette, bitDepth: 4, samples: [15, 0, 7], palette: palette)
        let image = try decode(fixture).image
        XCTAssertEqual(image[0, 0], RGBColor(red: 240, green: 15, blue: 7))
        XCTAssertEqual(image[2, 0], RGBColor(red: 112, green: 143, blue: 7))
    }

    func testPalette8BitLooksUpEntries() throws {
        let palette: [(UInt8, UInt8, UInt8)] = (0..<256).map { (index: Int) in
            (UInt8(index), UInt8(255 - index), UInt8(index / 2))
        }
        let fixture = PNGFixture(
            width: 2, height: 1, colorType: .palette, bitDepth: 8, samples: [200, 3], palette: palette)
        let image = try decode(fixture).image
        XCTAssertEqual(image[0, 0], RGBColor(red: 200, green: 55, blue: 100))
        XCTAssertEqual(image[1, 0], RGBColor(red: 3, green: 252, blue: 1))
    }

    func testPaletteWithTransparencyComposites() throws {
        // tRNS gives alpha 0 to entry 0 and 51 to entry 1; entries 2 and 3 are opaque.
        let fixture = PNGFixture(
            width: 3, height: 1, colorType: .palette, bitDepth: 2, samples: [0, 1, 2], palette: fourColorPalette,
            transparency: [0, 51])
        let decoded = try decode(fixture)
        XCTAssertEqual(decoded.image[0, 0], .white, "entry 0 is fully transparent")
        // Red at 20 %: 255 * 0.2 + 255 * 0.8 = 255 for red, 255 * 0.8 = 204 for green and blue.
        XCTAssertEqual(decoded.image[1, 0], RGBColor(red: 255, green: 204, blue: 204), "entry 1 is 20 % opaque")
        XCTAssertEqual(decoded.image[2, 0], RGBColor(red: 0, green: 255, blue: 0), "entry 2 has no tRNS value")
        XCTAssertTrue(decoded.wasComposited)
    }

    func testGrayTransparentColorComposites() throws {
        // tRNS for grey names one 16-bit sample value that is transparent.
        let fixture = PNGFixture(
            width: 2, height: 1, colorType: .gray, bitDepth: 8, samples: [50, 60], transparency: [0, 50])
        let image = try decode(fixture, options: DecodeOptions(minimumSide: 1, background: .black)).image
        XCTAssertEqual(image[0, 0], .black, "grey 50 is the transparent value")
        XCTAssertEqual(image[1, 0], RGBColor(gray: 60), "grey 60 stays opaque")
    }

    func testRGBTransparentColorComposites() throws {
        let fixture = PNGFixture(
            width: 2, height: 1, colorType: .rgb, bitDepth: 8, samples: [1, 2, 3, 4, 5, 6],
            transparency: [0, 1, 0, 2, 0, 3])
        let image = try decode(fixture).image
        XCTAssertEqual(image[0, 0], .white, "(1, 2, 3) is the transparent colour")
        XCTAssertEqual(image[1, 0], RGBColor(red: 4, green: 5, blue: 6))
    }

    func testInterlacedMatchesNonInterlaced() throws {
        var generator = SystemRandomNumberGenerator()
        let width = 13
        let height = 11
        let samples = (0..<(width * height * 3)).map { _ in Int.random(in: 0...255, using: &generator) }
        var fixture = PNGFixture(width: width, height: height, colorType: .rgb, bitDepth: 8, samples: samples)
        let plain = try decode(fixture)
        fixture.interlaced = true
        let interlaced = try decode(fixture)
        XCTAssertTrue(interlaced.isInterlaced)
        XCTAssertFalse(plain.isInterlaced)
        XCTAssertEqual(interlaced.image, plain.image)
        XCTAssertEqual(plain.image.pixels, samples.map { UInt8($0) })
    }

    func testInterlacedLowBitDepthAnd16Bit() throws {
        let width = 9
        let height = 10
        var oneBit = PNGFixture(
            width: width, height: height, colorType: .gray, bitDepth: 1,
            samples: (0..<(width * height)).map { ($0 * 7 / 3) % 2 }, interlaced: true)
        let oneBitImage = try decode(oneBit).image
        oneBit.interlaced = false
        XCTAssertEqual(oneBitImage, try decode(oneBit).image, "1-bit grey")

        var sixteenBit = PNGFixture(
            width: width, height: height, colorType: .rgba, bitDepth: 16,
            samples: (0..<(width * height * 4)).map { ($0 * 4099) % 65536 }, interlaced: true)
        let sixteenBitImage = try decode(sixteenBit).image
        sixteenBit.interlaced = false
        XCTAssertEqual(sixteenBitImage, try decode(sixteenBit).image, "16-bit RGBA")
    }

    func testTruncatedInImageDataIsCorrupt() throws {
        let bytes = rgbFixture(side: 16).encoded()
        let error = captureImageIOError { _ = try ImageDecoder.decode(Array(bytes.prefix(bytes.count / 2)), path: "cut.png") }
        XCTAssertEqual(error?.kind, .corrupt)
        XCTAssertTrue(error?.description.contains("cut.png") ?? false, "the message must name the file")
    }

    func testMissingIENDIsCorrupt() throws {
        let bytes = rgbFixture(side: 16).encoded()
        // IEND is the last 12 bytes: length, type and CRC.
        let error = captureImageIOError { _ = try ImageDecoder.decode(Array(bytes.dropLast(12))) }
        XCTAssertEqual(error?.kind, .corrupt)
    }

    func testTruncatedInHeaderIsCorrupt() throws {
        let bytes = rgbFixture(side: 16).encoded()
        let error = captureImageIOError { _ = try ImageDecoder.decode(Array(bytes.prefix(20))) }
        XCTAssertEqual(error?.kind, .corrupt)
    }

    func testDamagedIDATChecksumIsCorrupt() throws {
        var bytes = rgbFixture(side: 16).encoded()
        // The last byte before IEND belongs to the IDAT CRC.
        bytes[bytes.count - 13] ^= 0xFF
        let error = captureImageIOError { _ = try ImageDecoder.decode(bytes) }
        XCTAssertEqual(error?.kind, .corrupt)
    }

    func testHugeDeclaredSizeIsRejected() throws {
        let fixture = rgbFixture(side: 16)
        let bytes =
            PNGFixture.signature + PNGFixture.chunk("IHDR", fixture.ihdrPayload(width: 100_000, height: 100_000))
            + PNGFixture.chunk("IDAT", PNGFixture.zlibStored([0, 0, 0, 0])) + PNGFixture.chunk("IEND", [])
        let error = captureImageIOError { _ = try ImageDecoder.decode(bytes, path: "bomb.png") }
        XCTAssertEqual(error?.kind, .tooLarge)
        XCTAssertTrue(error?.problem.contains("100000x100000") ?? false, "the message must give the declared size")
        XCTAssertTrue(error?.description.contains("maximumPixels") ?? false, "the message must name the setting")
    }

    func testPixelLimitIsConfigurable() throws {
        let options = DecodeOptions(maximumPixels: 100, minimumSide: 1)
        XCTAssertNoThrow(try decode(rgbFixture(width: 10, height: 10), options: options), "100 pixels is at the limit")
        let error = captureImageIOError { _ = try self.decode(self.rgbFixture(width: 11, height: 10), options: options) }
        XCTAssertEqual(error?.kind, .tooLarge, "110 pixels is above the limit")
    }

    func testZeroWidthIsRejected() throws {
        let error = captureImageIOError { _ = try ImageDecoder.decode(self.headerOnly(width: 0, height: 10)) }
        XCTAssertEqual(error?.kind, .zeroSize)
    }

    func testZeroHeightIsRejected() throws {
        let error = captureImageIOError { _ = try ImageDecoder.decode(self.headerOnly(width: 10, height: 0)) }
        XCTAssertEqual(error?.kind, .zeroSize)
    }

    func testOnePixelImageIsTooSmallByDefault() throws {
        let error = captureImageIOError { _ = try ImageDecoder.decode(self.rgbFixture(side: 1).encoded()) }
        XCTAssertEqual(error?.kind, .tooSmall)
        XCTAssertTrue(error?.description.contains("minimumSide") ?? false, "the message must name the setting")
    }

    func testOnePixelImageDecodesWithMinimumSideOne() throws {
        let image = try decode(rgbFixture(side: 1)).image
        XCTAssertEqual(image.width, 1)
        XCTAssertEqual(image.height, 1)
    }

    func testThinImageIsTooSmall() throws {
        let error = captureImageIOError { _ = try ImageDecoder.decode(self.rgbFixture(width: 300, height: 3).encoded()) }
        XCTAssertEqual(error?.kind, .tooSmall)
    }

    func testImageAtMinimumSideDecodes() throws {
        let options = DecodeOptions(minimumSide: 16)
        let decoded = try decode(rgbFixture(width: 40, height: 16), options: options)
        XCTAssertEqual(decoded.image.width, 40)
        XCTAssertEqual(decoded.image.height, 16)
    }

    private func rgbFixture(side: Int) -> PNGFixture {
        rgbFixture(width: side, height: side)
    }

    private func rgbFixture(width: Int, height: Int) -> PNGFixture {
        PNGFixture(
            width: width, height: height, colorType: .rgb, bitDepth: 8,
            samples: (0..<(width * height * 3)).map { $0 % 256 })
    }

    private func headerOnly(width: Int, height: Int) -> [UInt8] {
        let fixture = rgbFixture(side: 1)
        return PNGFixture.signature + PNGFixture.chunk("IHDR", fixture.ihdrPayload(width: width, height: height))
            + PNGFixture.chunk("IEND", [])
    }
}
