import ImageIO
import XCTest

final class ExifOrientationTests: XCTestCase {
    /// Stored layout: 4 x 2 patches of 16 pixels, named by letter.
    ///     A B C D
    ///     E F G H
    private let patchColors: [Character: RGBColor] = [
        "A": RGBColor(red: 230, green: 30, blue: 30), "B": RGBColor(red: 30, green: 200, blue: 30),
        "C": RGBColor(red: 30, green: 30, blue: 230), "D": RGBColor(red: 230, green: 230, blue: 30),
        "E": RGBColor(red: 30, green: 220, blue: 220), "F": RGBColor(red: 220, green: 30, blue: 220),
        "G": RGBColor(red: 240, green: 240, blue: 240), "H": RGBColor(red: 20, green: 20, blue: 20),
    ]

    /// Displayed patch layout for each Orientation value, rows separated by
    /// "/", as the EXIF 2.32 specification defines the transforms.
    private let expectedLayouts: [Int: String] = [
        1: "ABCD/EFGH",
        2: "DCBA/HGFE",
        3: "HGFE/DCBA",
        4: "EFGH/ABCD",
        5: "AE/BF/CG/DH",
        6: "EA/FB/GC/HD",
        7: "HD/GC/FB/EA",
        8: "DH/CG/BF/AE",
    ]

    private var storedImage: RGBImage {
        makeBlockImage(colors: "ABCDEFGH".map { patchColors[$0]! }, columns: 4, rows: 2, blockSize: 16)
    }

    private func assertLayout(
        _ image: RGBImage, _ layout: String, _ message: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let rows = layout.split(separator: "/")
        XCTAssertEqual(image.width, rows[0].count * 16, "\(message): width", file: file, line: line)
        XCTAssertEqual(image.height, rows.count * 16, "\(message): height", file: file, line: line)
        guard image.width == rows[0].count * 16, image.height == rows.count * 16 else { return }
        for (rowIndex, row) in rows.enumerated() {
            for (columnIndex, letter) in row.enumerated() {
                assertColor(
                    image[columnIndex * 16 + 8, rowIndex * 16 + 8], patchColors[letter]!, tolerance: 6,
                    "\(message): patch \(letter) at column \(columnIndex), row \(rowIndex)", file: file, line: line)
            }
        }
    }

    func testAllEightOrientationsLittleEndian() throws {
        let jpeg = try ImageEncoder.encodeJPEG(storedImage, options: JPEGEncodeOptions(quality: 95))
        for value in 1...8 {
            let tagged = JPEGEditing.insertingOrientation(jpeg, value, littleEndian: true)
            let decoded = try ImageDecoder.decode(tagged)
            XCTAssertEqual(decoded.orientation?.rawValue, value, "orientation \(value) must be read")
            assertLayout(decoded.image, expectedLayouts[value]!, "orientation \(value), II byte order")
        }
    }

    func testAllEightOrientationsBigEndian() throws {
        let jpeg = try ImageEncoder.encodeJPEG(storedImage, options: JPEGEncodeOptions(quality: 95))
        for value in 1...8 {
            let tagged = JPEGEditing.insertingOrientation(jpeg, value, littleEndian: false)
            let decoded = try ImageDecoder.decode(tagged)
            XCTAssertEqual(decoded.orientation?.rawValue, value, "orientation \(value) must be read")
            assertLayout(decoded.image, expectedLayouts[value]!, "orientation \(value), MM byte order")
        }
    }

    func testRotate90SwapsWidthAndHeight() throws {
        // A 4x2 image tagged 6 loads as 2x4.
        let jpeg = try ImageEncoder.encodeJPEG(RGBImage(width: 4, height: 2, color: .white))
        let decoded = try ImageDecoder.decode(
            JPEGEditing.insertingOrientation(jpeg, 6, littleEndian: true), options: tinyImageOptions)
        XCTAssertEqual(decoded.image.width, 2)
        XCTAssertEqual(decoded.image.height, 4)
        XCTAssertEqual(decoded.sourceWidth, 4, "the source size stays as stored")
    }

    func testOrientationCanBeIgnored() throws {
        let jpeg = try ImageEncoder.encodeJPEG(storedImage, options: JPEGEncodeOptions(quality: 95))
        var options = DecodeOptions()
        options.appliesExifOrientation = false
        let decoded = try ImageDecoder.decode(JPEGEditing.insertingOrientation(jpeg, 6, littleEndian: true), options: options)
        XCTAssertEqual(decoded.orientation, .rotate90, "the tag is still reported")
        assertLayout(decoded.image, expectedLayouts[1]!, "orientation not applied")
    }

    func testOrientationOutsideRangeIsIgnored() throws {
        let jpeg = try ImageEncoder.encodeJPEG(storedImage, options: JPEGEncodeOptions(quality: 95))
        let decoded = try ImageDecoder.decode(JPEGEditing.insertingOrientation(jpeg, 9, littleEndian: true))
        XCTAssertNil(decoded.orientation)
        assertLayout(decoded.image, expectedLayouts[1]!, "orientation 9 is invalid")
    }

    func testPillowWrittenOrientationSix() throws {
        let decoded = try ImageDecoder.decode(contentsOf: fixturesFolder.appendingPathComponent("exif-orientation-6.jpg"))
        XCTAssertEqual(decoded.orientation, .rotate90)
        assertLayout(decoded.image, expectedLayouts[6]!, "Pillow fixture")
    }

    func testMalformedPayloadsReturnNil() {
        XCTAssertNil(ExifOrientation.parse(exifPayload: []), "empty")
        XCTAssertNil(ExifOrientation.parse(exifPayload: Array("XX*\0\0\0\0\u{8}".utf8)), "unknown byte order")
        // Directory offset far beyond the end.
        XCTAssertNil(ExifOrientation.parse(exifPayload: [0x49, 0x49, 42, 0, 0xFF, 0xFF, 0, 0]), "offset out of range")
        // One entry announced but the payload ends after the count.
        XCTAssertNil(ExifOrientation.parse(exifPayload: [0x4D, 0x4D, 0, 42, 0, 0, 0, 8, 0, 1]), "entry cut off")
    }

    func testApplyingTwiceGivesInverseForRotations() {
        let image = storedImage
        XCTAssertEqual(ExifOrientation.rotate180.apply(to: ExifOrientation.rotate180.apply(to: image)), image)
        XCTAssertEqual(ExifOrientation.rotate270.apply(to: ExifOrientation.rotate90.apply(to: image)), image)
        XCTAssertEqual(ExifOrientation.transpose.apply(to: ExifOrientation.transpose.apply(to: image)), image)
    }
}
