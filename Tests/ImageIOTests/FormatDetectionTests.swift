import ImageIO
import XCTest

final class FormatDetectionTests: XCTestCase {
    func testTextFileNamedJPGIsNotAnImage() throws {
        let folder = try makeTemporaryFolder(for: self)
        let file = folder.appendingPathComponent("notes.jpg")
        try Data("These are not pixels.\n".utf8).write(to: file)
        let error = captureImageIOError { _ = try ImageDecoder.decode(contentsOf: file) }
        XCTAssertEqual(error?.kind, .notAnImage)
        XCTAssertTrue(error?.description.contains(file.path) ?? false, "the message must name the file")
        XCTAssertTrue(error?.problem.contains("\"These ar\"") ?? false, "the message must quote the first bytes")
    }

    func testJPEGNamedPNGDecodesAsJPEG() throws {
        let folder = try makeTemporaryFolder(for: self)
        let file = folder.appendingPathComponent("photo.png")
        try Data(ImageEncoder.encodeJPEG(RGBImage(width: 20, height: 20, color: .white))).write(to: file)
        let decoded = try ImageDecoder.decode(contentsOf: file)
        XCTAssertEqual(decoded.format, .jpeg)
        XCTAssertEqual(decoded.image.width, 20)
    }

    func testPNGNamedJPGDecodesAsPNG() throws {
        let folder = try makeTemporaryFolder(for: self)
        let file = folder.appendingPathComponent("photo.jpg")
        try Data(ImageEncoder.encodePNG(RGBImage(width: 20, height: 20, color: .black))).write(to: file)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: file).format, .png)
    }

    func testEmptyFileIsNotAnImage() throws {
        let error = captureImageIOError { _ = try ImageDecoder.decode([], path: "empty.jpg") }
        XCTAssertEqual(error?.kind, .notAnImage)
        XCTAssertTrue(error?.problem.contains("empty") ?? false)
    }

    func testMissingFileIsUnreadable() throws {
        let folder = try makeTemporaryFolder(for: self)
        let error = captureImageIOError { _ = try ImageDecoder.decode(contentsOf: folder.appendingPathComponent("gone.png")) }
        XCTAssertEqual(error?.kind, .unreadable)
    }

    func testOtherImageFormatsAreUnsupported() {
        let signatures: [(String, [UInt8], ImageFormat)] = [
            ("GIF", Array("GIF89a\u{1}\0\u{1}\0".utf8), .gif),
            ("BMP", [0x42, 0x4D, 0x46, 0, 0, 0, 0, 0, 0, 0, 0x36, 0], .bmp),
            ("WebP", Array("RIFF\u{10}\0\0\0WEBPVP8 ".utf8), .webp),
            ("TIFF", [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0], .tiff),
            ("HEIC", [0, 0, 0, 0x18] + Array("ftypheic".utf8), .heif),
        ]
        for (name, bytes, format) in signatures {
            XCTAssertEqual(ImageFormat.detect(bytes), format, "\(name) signature")
            let error = captureImageIOError { _ = try ImageDecoder.decode(bytes, path: "file") }
            XCTAssertEqual(error?.kind, .unsupportedFormat, "\(name) must be rejected as unsupported")
        }
    }

    func testTextStartingWithBMIsNotBMP() {
        XCTAssertNil(ImageFormat.detect(Array("BMW owners club".utf8)))
    }
}
