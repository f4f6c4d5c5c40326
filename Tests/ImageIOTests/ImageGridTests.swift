import ImageIO
import XCTest

final class ImageGridTests: XCTestCase {
    private let red = RGBColor(red: 255, green: 0, blue: 0)
    private let blue = RGBColor(red: 0, green: 0, blue: 255)

    func testGridSizeAndPlacementWithoutLabels() throws {
        let images = [
            RGBImage(width: 10, height: 10, color: red), RGBImage(width: 10, height: 10, color: blue),
            RGBImage(width: 10, height: 10, color: red),
        ]
        let grid = try ImageGrid(columns: 2, spacing: 2).render(images)
        XCTAssertEqual(grid.width, 2 * 10 + 3 * 2)
        XCTAssertEqual(grid.height, 2 * 10 + 3 * 2)
        XCTAssertEqual(grid[2, 2], red, "first cell starts after the spacing")
        XCTAssertEqual(grid[14, 2], blue, "second cell")
        XCTAssertEqual(grid[2, 14], red, "third image starts the second row")
        XCTAssertEqual(grid[14, 14], .white, "missing fourth image leaves the background")
    }

    func testSmallerImagesAreCentredInCells() throws {
        let grid = try ImageGrid(columns: 2, spacing: 0).render([
            RGBImage(width: 8, height: 8, color: red), RGBImage(width: 4, height: 4, color: blue),
        ])
        XCTAssertEqual(grid[8 + 2, 2], blue, "the 4x4 image is centred in the 8x8 cell")
        XCTAssertEqual(grid[8, 0], .white, "the cell corner stays background")
    }

    func testLabelsAddStripAndInk() throws {
        let images = (0..<4).map { _ in RGBImage(width: 40, height: 10, color: blue) }
        let grid = try ImageGrid(columns: 2, spacing: 2).render(images, rowLabels: ["s=0", "s=S"])
        let labelHeight = BitmapFont.glyphHeight + 2
        XCTAssertEqual(grid.height, 2 * (labelHeight + 10) + 3 * 2)
        let strip = (0..<BitmapFont.glyphHeight).flatMap { y in (0..<grid.width).map { grid[$0, 2 + y] } }
        XCTAssertTrue(strip.contains(.black), "the first label must be drawn in black")
        XCTAssertEqual(grid[2, 2 + labelHeight], blue, "images start below the label strip")
    }

    func testLabelCountMustMatchRows() {
        let images = [RGBImage(width: 4, height: 4, color: red)]
        let error = captureImageIOError { _ = try ImageGrid(columns: 1).render(images, rowLabels: ["a", "b"]) }
        XCTAssertEqual(error?.kind, .invalidArgument)
    }

    func testEmptyGridIsRejected() {
        let error = captureImageIOError { _ = try ImageGrid(columns: 3).render([]) }
        XCTAssertEqual(error?.kind, .invalidArgument)
    }

    func testFontDrawsKnownGlyph() {
        var image = RGBImage(width: 5, height: 7, color: .white)
        BitmapFont.draw("T", into: &image, x: 0, y: 0, color: .black)
        XCTAssertEqual((0..<5).map { image[$0, 0] }, Array(repeating: .black, count: 5), "the bar of the T")
        XCTAssertEqual(image[2, 6], .black, "the stem of the T")
        XCTAssertEqual(image[0, 6], .white, "beside the stem")
    }

    func testTextPastTheEdgesIsClipped() {
        var image = RGBImage(width: 8, height: 7, color: .white)
        BitmapFont.draw("TTTT", into: &image, x: 0, y: 0, color: .black)
        BitmapFont.draw("T", into: &image, x: -20, y: -20, color: .black)
        BitmapFont.draw("T", into: &image, x: 50, y: 50, color: .black)
        XCTAssertEqual(image[0, 0], .black, "the first glyph is drawn")
        XCTAssertEqual(image[7, 0], .black, "the second glyph is drawn up to the edge")
    }

    func testLabelWiderThanOneColumnIsClipped() throws {
        let grid = try ImageGrid(columns: 1).render(
            [RGBImage(width: 8, height: 8, color: red)], rowLabels: ["face, guidance 3.0"])
        let strip = (0..<BitmapFont.glyphHeight).flatMap { y in (0..<grid.width).map { grid[$0, 2 + y] } }
        XCTAssertTrue(strip.contains(.black), "the label's first letters are drawn")
        XCTAssertLessThan(grid.width, BitmapFont.width(of: "face, guidance 3.0"), "the label is wider than the grid, the case under test")
    }

    func testFontCoversLettersDigitsAndPunctuation() {
        let characters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:;-_+=/()[]!?'\"#%*<>@&|"
        for character in characters {
            XCTAssertTrue(BitmapFont.hasGlyph(for: character), "missing glyph for \(character)")
        }
        XCTAssertFalse(BitmapFont.hasGlyph(for: "é"), "characters outside ASCII use the box")
        XCTAssertEqual(BitmapFont.width(of: "ab", scale: 2), 22)
    }

    func testWritePNGCreatesDecodableFile() throws {
        let folder = try makeTemporaryFolder(for: self)
        let file = folder.appendingPathComponent("grid.png")
        try ImageGrid(columns: 1).writePNG([RGBImage(width: 20, height: 20, color: red)], rowLabels: ["x"], to: file)
        XCTAssertEqual(try ImageDecoder.decode(contentsOf: file).format, .png)
    }
}
