import ImageIO
import XCTest

final class JPEGDecodingTests: XCTestCase {
    private let patchColors = [
        RGBColor(red: 220, green: 40, blue: 40), RGBColor(red: 40, green: 200, blue: 60),
        RGBColor(red: 50, green: 60, blue: 210), RGBColor(red: 230, green: 220, blue: 60),
    ]

    /// 32x32 image of four 16x16 flat patches.
    private var patchImage: RGBImage {
        makeBlockImage(colors: patchColors, columns: 2, rows: 2, blockSize: 16)
    }

    private func patchCentres(_ image: RGBImage) -> [RGBColor] {
        [image[8, 8], image[24, 8], image[8, 24], image[24, 24]]
    }

    func testBaselineRoundTripKeepsColors() throws {
        let jpeg = try ImageEncoder.encodeJPEG(patchImage, options: JPEGEncodeOptions(quality: 95))
        let decoded = try ImageDecoder.decode(jpeg)
        XCTAssertEqual(decoded.format, .jpeg)
        XCTAssertFalse(decoded.isInterlaced, "baseline JPEG")
        XCTAssertEqual(decoded.sourceColorModel, .yCbCr)
        for (actual, expected) in zip(patchCentres(decoded.image), patchColors) {
            assertColor(actual, expected, tolerance: 4, "baseline patch")
        }
    }

    func testProgressiveRoundTripKeepsColors() throws {
        let jpeg = try ImageEncoder.encodeJPEG(patchImage, options: JPEGEncodeOptions(quality: 95, progressive: true))
        let decoded = try ImageDecoder.decode(jpeg)
        XCTAssertTrue(decoded.isInterlaced, "progressive JPEG")
        for (actual, expected) in zip(patchCentres(decoded.image), patchColors) {
            assertColor(actual, expected, tolerance: 4, "progressive patch")
        }
    }

    func testGrayscaleJPEGDecodesToEqualChannels() throws {
        let jpeg = try ImageEncoder.encodeJPEG(patchImage, options: JPEGEncodeOptions(quality: 95, grayscale: true))
        let decoded = try ImageDecoder.decode(jpeg)
        XCTAssertEqual(decoded.sourceColorModel, .gray)
        let centre = decoded.image[8, 8]
        XCTAssertEqual(centre.red, centre.green, "grey JPEG must give R = G")
        XCTAssertEqual(centre.green, centre.blue, "grey JPEG must give G = B")
        // Luma of (220, 40, 40): 0.299 * 220 + 0.587 * 40 + 0.114 * 40 = 93.8.
        XCTAssertEqual(Double(centre.red), 93.8, accuracy: 3)
    }

    private let expectedCMYKColors = [
        RGBColor(red: 255, green: 0, blue: 0), RGBColor(red: 0, green: 191, blue: 0),
        RGBColor(red: 127, green: 127, blue: 127), RGBColor(red: 198, green: 161, blue: 88),
    ]

    func testAdobeCMYKIsNotInverted() throws {
        let decoded = try ImageDecoder.decode(contentsOf: fixturesFolder.appendingPathComponent("cmyk-adobe.jpg"))
        XCTAssertEqual(decoded.sourceColorModel, .cmyk)
        let centres = patchCentres(decoded.image)
        assertColor(centres[0], expectedCMYKColors[0], tolerance: 4, "CMYK (0, 255, 255, 0)")
        assertColor(centres[1], expectedCMYKColors[1], tolerance: 4, "CMYK (255, 0, 255, 64)")
        assertColor(centres[2], expectedCMYKColors[2], tolerance: 4, "CMYK (0, 0, 0, 128)")
        assertColor(centres[3], expectedCMYKColors[3], tolerance: 4, "CMYK (40, 80, 160, 20)")
    }

    func testAdobeYCCKIsNotInverted() throws {
        let decoded = try ImageDecoder.decode(contentsOf: fixturesFolder.appendingPathComponent("ycck-adobe.jpg"))
        XCTAssertEqual(decoded.sourceColorModel, .ycck)
        let centres = patchCentres(decoded.image)
        assertColor(centres[0], expectedCMYKColors[0], tolerance: 4, "YCCK (0, 255, 255, 0)")
        assertColor(centres[1], expectedCMYKColors[1], tolerance: 4, "YCCK (255, 0, 255, 64)")
        assertColor(centres[2], expectedCMYKColors[2], tolerance: 4, "YCCK (0, 0, 0, 128)")
        assertColor(centres[3], expectedCMYKColors[3], tolerance: 4, "YCCK (40, 80, 160, 20)")
    }

    func testCMYKWithoutAdobeMarkerIsTakenAsPlain() throws {
        // Without APP14 the stored samples, which the writer inverted, are
        // read as plain CMYK. The fourth patch, CMYK (40, 80, 160, 20), is
        // stored as (215, 175, 95, 235), which read plainly is nearly black:
        // R = 40 * 20 / 255 = 3, G = 80 * 20 / 255 = 6, B = 160 * 20 / 255 = 13.
        let bytes = try readFixture("cmyk-adobe.jpg")
        let withoutAdobe = JPEGEditing.removingSegments(bytes, marker: 0xEE)
        XCTAssertLessThan(withoutAdobe.count, bytes.count, "the fixture must contain an APP14 segment")
        let image = try ImageDecoder.decode(withoutAdobe, options: tinyImageOptions).image
        assertColor(image[24, 24], RGBColor(red: 3, green: 6, blue: 13), tolerance: 4, "plain CMYK (215, 175, 95, 235)")
    }

    func testTruncatedJPEGIsCorrupt() throws {
        let jpeg = try ImageEncoder.encodeJPEG(patchImage)
        let error = captureImageIOError {
            _ = try ImageDecoder.decode(Array(jpeg.prefix(jpeg.count * 2 / 3)), path: "cut.jpg")
        }
        XCTAssertEqual(error?.kind, .corrupt)
        XCTAssertTrue(
            error?.problem.contains("Premature end of JPEG file") ?? false,
            "libjpeg's premature-end warning must become the error, got \(String(describing: error))")
    }

    func testMissingEOIIsCorrupt() throws {
        let jpeg = try ImageEncoder.encodeJPEG(patchImage)
        let error = captureImageIOError { _ = try ImageDecoder.decode(Array(jpeg.dropLast(2))) }
        XCTAssertEqual(error?.kind, .corrupt, "a file cut just before EOI still has all rows, but is truncated")
    }

    func testTruncatedProgressiveJPEGIsCorrupt() throws {
        let jpeg = try ImageEncoder.encodeJPEG(patchImage, options: JPEGEncodeOptions(progressive: true))
        let error = captureImageIOError { _ = try ImageDecoder.decode(Array(jpeg.prefix(jpeg.count / 2))) }
        XCTAssertEqual(error?.kind, .corrupt)
    }

    func testTruncatedInHeaderIsCorrupt() throws {
        let jpeg = try ImageEncoder.encodeJPEG(patchImage)
        let error = captureImageIOError { _ = try ImageDecoder.decode(Array(jpeg.prefix(40))) }
        XCTAssertEqual(error?.kind, .corrupt)
    }

    func testMarkerInsideScanDataIsCorrupt() throws {
        var jpeg = try ImageEncoder.encodeJPEG(patchImage)
        let scanStart = JPEGEditing.segments(jpeg).last!.offset
        // An EOI marker in the middle of the entropy-coded data.
        let middle = (scanStart + jpeg.count) / 2
        jpeg[middle] = 0xFF
        jpeg[middle + 1] = 0xD9
        let error = captureImageIOError { _ = try ImageDecoder.decode(jpeg) }
        XCTAssertEqual(error?.kind, .corrupt)
    }

    func testZeroHeightInFrameHeaderIsRejected() throws {
        let jpeg = JPEGEditing.settingFrameSize(try ImageEncoder.encodeJPEG(patchImage), width: 32, height: 0)
        let error = captureImageIOError { _ = try ImageDecoder.decode(jpeg) }
        XCTAssertEqual(error?.kind, .zeroSize)
    }

    func testZeroWidthInFrameHeaderIsRejected() throws {
        let jpeg = JPEGEditing.settingFrameSize(try ImageEncoder.encodeJPEG(patchImage), width: 0, height: 32)
        let error = captureImageIOError { _ = try ImageDecoder.decode(jpeg) }
        XCTAssertEqual(error?.kind, .zeroSize)
    }

    func testHugeFrameHeaderIsRejectedBeforeDecoding() throws {
        let jpeg = JPEGEditing.settingFrameSize(try ImageEncoder.encodeJPEG(patchImage), width: 60_000, height: 60_000)
        let error = captureImageIOError { _ = try ImageDecoder.decode(jpeg) }
        XCTAssertEqual(error?.kind, .tooLarge)
        XCTAssertTrue(error?.problem.contains("60000x60000") ?? false)
    }

    func testTinyJPEGIsTooSmallByDefault() throws {
        let jpeg = try ImageEncoder.encodeJPEG(RGBImage(width: 1, height: 1, color: .white))
        let error = captureImageIOError { _ = try ImageDecoder.decode(jpeg) }
        XCTAssertEqual(error?.kind, .tooSmall)
    }

    func testThinJPEGIsTooSmallByDefault() throws {
        let jpeg = try ImageEncoder.encodeJPEG(RGBImage(width: 400, height: 2, color: .white))
        let error = captureImageIOError { _ = try ImageDecoder.decode(jpeg) }
        XCTAssertEqual(error?.kind, .tooSmall)
    }

    func testDCTScalingKeepsRequestedShorterSide() throws {
        let image = makeBlockImage(colors: patchColors, columns: 2, rows: 2, blockSize: 128)
        let jpeg = try ImageEncoder.encodeJPEG(image)
        var options = DecodeOptions()
        options.minimumOutputSize = .init(shorterSide: 64)
        let decoded = try ImageDecoder.decode(jpeg, options: options)
        XCTAssertEqual(decoded.image.width, 64, "256 pixels at scale 2/8")
        XCTAssertEqual(decoded.image.height, 64)
        XCTAssertEqual(decoded.sourceWidth, 256, "the source size is the declared size")
        assertColor(decoded.image[16, 16], patchColors[0], tolerance: 4, "scaled patch")
    }

    func testDCTScalingRoundsUpToKeepTheTarget() throws {
        let jpeg = try ImageEncoder.encodeJPEG(RGBImage(width: 300, height: 160, color: .white))
        var options = DecodeOptions()
        options.minimumOutputSize = .init(shorterSide: 64)
        let decoded = try ImageDecoder.decode(jpeg, options: options)
        // 160 * 3/8 = 60 is too small, so 4/8 gives 150x80.
        XCTAssertEqual(decoded.image.width, 150)
        XCTAssertEqual(decoded.image.height, 80)
    }

    func testDCTScalingOnLongerSide() throws {
        let jpeg = try ImageEncoder.encodeJPEG(RGBImage(width: 512, height: 128, color: .white))
        var options = DecodeOptions()
        options.minimumOutputSize = .init(longerSide: 64)
        let decoded = try ImageDecoder.decode(jpeg, options: options)
        XCTAssertEqual(decoded.image.width, 64, "512 pixels at scale 1/8")
        XCTAssertEqual(decoded.image.height, 16)
    }

    private func readFixture(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: fixturesFolder.appendingPathComponent(name)))
    }
}
