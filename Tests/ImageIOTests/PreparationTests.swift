import ImageIO
import TensorCore
import XCTest

final class PreparationTests: XCTestCase {
    /// Returns a width x height image whose red channel is x and green channel is y.
    private func coordinateImage(width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height, color: .black)
        for y in 0..<height {
            for x in 0..<width {
                image[x, y] = RGBColor(red: UInt8(x), green: UInt8(y), blue: 0)
            }
        }
        return image
    }

    func testCenterCropOfWideImageKeepsMiddle() {
        let cropped = coordinateImage(width: 10, height: 4).centerCroppedToSquare()
        XCTAssertEqual(cropped.width, 4)
        XCTAssertEqual(cropped.height, 4)
        XCTAssertEqual(cropped[0, 0], RGBColor(red: 3, green: 0, blue: 0), "left edge of the crop is column 3")
    }

    func testCenterCropOfTallImageKeepsMiddle() {
        let cropped = coordinateImage(width: 3, height: 8).centerCroppedToSquare()
        XCTAssertEqual(cropped.width, 3)
        XCTAssertEqual(cropped[0, 0], RGBColor(red: 0, green: 2, blue: 0), "top edge of the crop is row 2")
    }

    func testPadToSquareCentresImage() {
        let padded = coordinateImage(width: 4, height: 2).paddedToSquare(color: RGBColor(gray: 99))
        XCTAssertEqual(padded.width, 4)
        XCTAssertEqual(padded.height, 4)
        XCTAssertEqual(padded[0, 0], RGBColor(gray: 99), "top row is padding")
        XCTAssertEqual(padded[2, 1], RGBColor(red: 2, green: 0, blue: 0), "image starts at row 1")
        XCTAssertEqual(padded[3, 3], RGBColor(gray: 99), "bottom row is padding")
    }

    func testAreaAverageDownscaleAveragesBlocks() {
        // 4x4 with 2x2 blocks of 0, 100, 200 and 40 in red.
        var image = RGBImage(width: 4, height: 4, color: .black)
        let blockValues: [UInt8] = [0, 100, 200, 40]
        for y in 0..<4 {
            for x in 0..<4 {
                image[x, y] = RGBColor(red: blockValues[(y / 2) * 2 + x / 2], green: 0, blue: 0)
            }
        }
        image[0, 0] = RGBColor(red: 40, green: 0, blue: 0)
        let small = image.resized(side: 2)
        XCTAssertEqual(small[0, 0].red, 10, "mean of 40, 0, 0, 0")
        XCTAssertEqual(small[1, 0].red, 100)
        XCTAssertEqual(small[0, 1].red, 200)
        XCTAssertEqual(small[1, 1].red, 40)
    }

    func testAreaAverageWithFractionalCoverage() {
        // Three pixels 0, 90, 180 to two: each output covers 1.5 pixels.
        var image = RGBImage(width: 3, height: 1, color: .black)
        image[1, 0] = RGBColor(red: 90, green: 0, blue: 0)
        image[2, 0] = RGBColor(red: 180, green: 0, blue: 0)
        let small = image.resized(width: 2, height: 1)
        XCTAssertEqual(small[0, 0].red, 30, "(0 * 1 + 90 * 0.5) / 1.5")
        XCTAssertEqual(small[1, 0].red, 150, "(90 * 0.5 + 180 * 1) / 1.5")
    }

    func testBilinearUpscaleInterpolatesBetweenCentres() {
        var image = RGBImage(width: 2, height: 1, color: .black)
        image[1, 0] = RGBColor(red: 200, green: 0, blue: 0)
        let large = image.resized(width: 4, height: 1)
        // Output centres map to source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
        XCTAssertEqual((0..<4).map { large[$0, 0].red }, [0, 50, 150, 200])
    }

    func testResizeKeepsFlatColor() {
        let color = RGBColor(red: 12, green: 200, blue: 77)
        let image = RGBImage(width: 37, height: 23, color: color)
        XCTAssertEqual(image.resized(side: 64), RGBImage(width: 64, height: 64, color: color), "upscale")
        XCTAssertEqual(image.resized(side: 8), RGBImage(width: 8, height: 8, color: color), "downscale")
    }

    func testTensorHasShapeAndRange() {
        var image = RGBImage(width: 2, height: 2, color: .black)
        image[1, 0] = RGBColor(red: 255, green: 0, blue: 0)
        let tensor = image.tensor()
        XCTAssertEqual(tensor.shape, [3, 2, 2])
        XCTAssertEqual(tensor.data[0], -1, "0 maps to -1")
        XCTAssertEqual(tensor.data[1], 1, "255 maps to 1 (red plane, pixel (1, 0))")
        XCTAssertEqual(tensor.data[5], -1, "green plane, pixel (1, 0)")
    }

    func testTensorRoundTripIsExact() throws {
        var image = RGBImage(width: 16, height: 16, color: .black)
        for index in 0..<image.pixels.count { image.pixels[index] = UInt8(index % 256) }
        XCTAssertEqual(try RGBImage(tensor: image.tensor()), image)
    }

    func testTensorConversionClampsAndRejectsShapes() throws {
        let tensor = Tensor(shape: [1, 3, 1, 1], data: [2, -3, .nan])
        XCTAssertEqual(try RGBImage(tensor: tensor)[0, 0], RGBColor(red: 255, green: 0, blue: 0))
        let error = captureImageIOError { _ = try RGBImage(tensor: Tensor(shape: [4, 2, 2], repeating: 0)) }
        XCTAssertEqual(error?.kind, .invalidArgument)
    }

    func testBatchTensorStacksImages() {
        let images = [RGBImage(width: 2, height: 2, color: .black), RGBImage(width: 2, height: 2, color: .white)]
        let batch = batchTensor(images)
        XCTAssertEqual(batch.shape, [2, 3, 2, 2])
        XCTAssertEqual(batch.data[0], -1)
        XCTAssertEqual(batch.data[12], 1)
    }

    func testHorizontalFlipMirrorsColumns() {
        let image = coordinateImage(width: 3, height: 2)
        let flipped = image.flippedHorizontally()
        XCTAssertEqual(flipped[0, 1], image[2, 1])
        XCTAssertEqual(flipped[2, 0], image[0, 0])
        XCTAssertEqual(flipped.flippedHorizontally(), image, "flipping twice restores the image")
    }

    func testPreparationOfWideJPEGGivesSquare() throws {
        let wide = makeBlockImage(
            colors: [.black, RGBColor(red: 200, green: 30, blue: 30), .white], columns: 3, rows: 1, blockSize: 160)
        let jpeg = try ImageEncoder.encodeJPEG(wide, options: JPEGEncodeOptions(quality: 95))
        let prepared = try ImagePreparation(resolution: 64).load(jpeg, path: "wide.jpg")
        XCTAssertEqual(prepared.image.width, 64)
        XCTAssertEqual(prepared.image.height, 64)
        assertColor(prepared.image[32, 32], RGBColor(red: 200, green: 30, blue: 30), tolerance: 5, "the crop keeps the middle block")
        XCTAssertEqual(prepared.source.sourceWidth, 480)
    }

    func testScaledAndFullDecodesAgree() throws {
        var generator = SeededGenerator(seed: 3)
        var image = RGBImage(width: 256, height: 256, color: .black)
        for y in 0..<256 {
            for x in 0..<256 {
                let noise = Int(generator.normal() * 4)
                image[x, y] = RGBColor(
                    red: UInt8(clamping: x + noise), green: UInt8(clamping: y + noise), blue: UInt8(clamping: 128 + noise))
            }
        }
        let jpeg = try ImageEncoder.encodeJPEG(image, options: JPEGEncodeOptions(quality: 90))
        let scaled = try ImagePreparation(resolution: 64).load(jpeg, path: "scaled").image
        let full = try ImagePreparation(resolution: 64, usesJPEGScaling: false).load(jpeg, path: "full").image
        let differences = zip(scaled.pixels, full.pixels).map { abs(Int($0) - Int($1)) }
        XCTAssertLessThanOrEqual(differences.max()!, 8, "DCT scaling must stay close to area averaging")
    }

    func testPadFramingKeepsWholeImage() throws {
        let tall = RGBImage(width: 50, height: 100, color: RGBColor(red: 0, green: 0, blue: 200))
        let preparation = ImagePreparation(resolution: 20, framing: .pad, padColor: .black)
        let prepared = preparation.prepare(tall)
        XCTAssertEqual(prepared.width, 20)
        XCTAssertEqual(prepared[1, 10], .black, "left padding")
        XCTAssertEqual(prepared[10, 10], RGBColor(red: 0, green: 0, blue: 200), "centre keeps the image")
    }
}
