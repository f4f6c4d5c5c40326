import ImageIO
import XCTest

final class ImageEncoderTests: XCTestCase {
    private func gradient(width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height, color: .black)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = RGBColor(red: UInt8(x * 255 / width), green: UInt8(y * 255 / height), blue: UInt8((x + y) % 256))
            }
        }
        return image
    }

    func testPNGRoundTripIsExact() throws {
        let image = gradient(width: 37, height: 23)
        let decoded = try ImageDecoder.decode(ImageEncoder.encodePNG(image), options: tinyImageOptions)
        XCTAssertEqual(decoded.image, image)
        XCTAssertEqual(decoded.sourceColorModel, .rgb)
        XCTAssertEqual(decoded.sourceBitDepth, 8)
    }

    func testJPEGQualityChangesSizeAndError() throws {
        let image = gradient(width: 64, height: 64)
        let low = try ImageEncoder.encodeJPEG(image, options: JPEGEncodeOptions(quality: 20))
        let high = try ImageEncoder.encodeJPEG(image, options: JPEGEncodeOptions(quality: 95))
        XCTAssertLessThan(low.count, high.count, "lower quality must give a smaller file")

        func meanAbsoluteError(_ bytes: [UInt8]) throws -> Double {
            let decoded = try ImageDecoder.decode(bytes).image
            let total = zip(decoded.pixels, image.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
            return Double(total) / Double(image.pixels.count)
        }
        XCTAssertLessThan(try meanAbsoluteError(high), try meanAbsoluteError(low), "higher quality must be closer")
        XCTAssertLessThan(try meanAbsoluteError(high), 2.5, "quality 95 must be close to the original")
    }

    func testInvalidQualityIsRejected() {
        let error = captureImageIOError {
            _ = try ImageEncoder.encodeJPEG(RGBImage(width: 2, height: 2, color: .white), options: JPEGEncodeOptions(quality: 0))
        }
        XCTAssertEqual(error?.kind, .invalidArgument)
    }

    func testEmptyImageIsRejected() {
        let error = captureImageIOError { _ = try ImageEncoder.encodePNG(RGBImage(width: 0, height: 0, pixels: [])) }
        XCTAssertEqual(error?.kind, .invalidArgument)
    }

    func testWriteReplacesFileAndLeavesNoTemporary() throws {
        let folder = try makeTemporaryFolder(for: self)
        let file = folder.appendingPathComponent("out.png")
        try ImageEncoder.writePNG(RGBImage(width: 4, height: 4, color: .white), to: file)
        try ImageEncoder.writePNG(RGBImage(width: 5, height: 3, color: .black), to: file)
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        XCTAssertEqual(names, ["out.png"], "only the final file may remain")
        let decoded = try ImageDecoder.decode(contentsOf: file, options: tinyImageOptions)
        XCTAssertEqual(decoded.image.width, 5, "the second write must replace the first")
    }

    func testWriteJPEGToFile() throws {
        let folder = try makeTemporaryFolder(for: self)
        let file = folder.appendingPathComponent("out.jpg")
        try ImageEncoder.writeJPEG(gradient(width: 32, height: 32), to: file, options: JPEGEncodeOptions(quality: 80))
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: file).format, .jpeg)
    }

    func testWriteIntoMissingFolderFails() throws {
        let folder = try makeTemporaryFolder(for: self)
        let file = folder.appendingPathComponent("missing/out.png")
        let error = captureImageIOError { try ImageEncoder.writePNG(RGBImage(width: 4, height: 4, color: .white), to: file) }
        XCTAssertEqual(error?.kind, .writeFailed)
        XCTAssertTrue(error?.description.contains(file.path) ?? false, "the message must name the destination")
    }
}
