import ImageIO
import XCTest

final class SubjectFolderTests: XCTestCase {
    private var folder: URL!
    private var recorder: LogRecorder!

    override func setUpWithError() throws {
        folder = try makeTemporaryFolder(for: self)
        recorder = LogRecorder()
    }

    private func write(_ bytes: [UInt8], _ relativePath: String) throws {
        let file = folder.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: file)
    }

    private func jpeg(_ color: RGBColor = .white, side: Int = 32) throws -> [UInt8] {
        try ImageEncoder.encodeJPEG(RGBImage(width: side, height: side, color: color))
    }

    private func png(_ color: RGBColor = .black, side: Int = 32) throws -> [UInt8] {
        try ImageEncoder.encodePNG(RGBImage(width: side, height: side, color: color))
    }

    /// Creates a subject folder as users collect them: two images, an image
    /// without extension, a truncated JPEG, and everything that is not an image.
    private func makeClutteredSubject() throws -> URL {
        let subject = folder.appendingPathComponent("rex")
        try write(jpeg(), "rex/a.jpg")
        try write(png(), "rex/b.png")
        try write(jpeg(), "rex/c")
        try write(Array(jpeg().prefix(200)), "rex/truncated.jpg")
        try write(Array("Not a photo".utf8), "rex/broken.jpg")
        try write(Array("GIF89a\u{1}\0\u{1}\0".utf8), "rex/anim.gif")
        try write([0, 0, 0, 1], "rex/.DS_Store")
        try write([0], "rex/Thumbs.db")
        try write(Array("[.ShellClassInfo]".utf8), "rex/desktop.ini")
        try write(Array("a photo of sks dog".utf8), "rex/a.txt")
        try write(Array("caption".utf8), "rex/caption.txt")
        try write(jpeg(), "rex/.ipynb_checkpoints/a-checkpoint.jpg")
        try write(jpeg(), "rex/nested/deeper.jpg")
        return subject
    }

    func testListingKeepsImagesByContentInSortedOrder() throws {
        let listing = try DatasetFolder.listSubject(in: makeClutteredSubject(), classLabel: .dog, log: recorder.log)
        XCTAssertEqual(listing.files.map(\.lastPathComponent), ["a.jpg", "b.png", "c", "truncated.jpg"])
        XCTAssertEqual(listing.id, "subject/rex")
    }

    func testNonImagesAreCountedInOneLine() throws {
        _ = try DatasetFolder.listSubject(in: makeClutteredSubject(), classLabel: .dog, log: recorder.log)
        let summaries = recorder.lines.filter { $0.contains("not images") }
        XCTAssertEqual(summaries.count, 1, "one summary line, got \(recorder.lines)")
        // .DS_Store, .ipynb_checkpoints/, Thumbs.db, a.txt, caption.txt, desktop.ini, nested/
        XCTAssertTrue(summaries.first?.contains("skipped 7 entries") ?? false, "got \(summaries)")
    }

    func testFilesNamedLikeImagesAreLoggedWithReason() throws {
        _ = try DatasetFolder.listSubject(in: makeClutteredSubject(), classLabel: .dog, log: recorder.log)
        let broken = recorder.lines.first { $0.contains("broken.jpg") }
        XCTAssertNotNil(broken, "broken.jpg must be logged, got \(recorder.lines)")
        XCTAssertTrue(broken?.contains("not a PNG or JPEG") ?? false)
        let gif = recorder.lines.first { $0.contains("anim.gif") }
        XCTAssertTrue(gif?.contains("GIF") ?? false, "anim.gif must be logged as GIF, got \(recorder.lines)")
    }

    func testLoadSkipsUndecodableFileWithReason() throws {
        let listing = try DatasetFolder.listSubject(in: makeClutteredSubject(), classLabel: .dog, log: recorder.log)
        let dataset = try SubjectDataset.load([listing], preparation: ImagePreparation(resolution: 16), log: recorder.log)
        XCTAssertEqual(dataset.subjects.count, 1)
        XCTAssertEqual(dataset.subjects[0].images.count, 3)
        let line = recorder.lines.first { $0.contains("truncated.jpg") }
        XCTAssertTrue(line?.contains("Premature end of JPEG file") ?? false, "got \(recorder.lines)")
    }

    func testEmptyFolderIsAnError() throws {
        let empty = folder.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        let error = captureImageIOError { _ = try DatasetFolder.listSubject(in: empty, classLabel: .face, log: self.recorder.log) }
        XCTAssertEqual(error?.kind, .emptyFolder)
        XCTAssertTrue(error?.description.contains(empty.path) ?? false, "the message must name the folder")
    }

    func testFolderOfOnlyNonImagesIsEmpty() throws {
        try write([1, 2, 3], "junk/.DS_Store")
        try write(Array("hello".utf8), "junk/notes.txt")
        let error = captureImageIOError {
            _ = try DatasetFolder.listSubject(in: self.folder.appendingPathComponent("junk"), classLabel: .face, log: self.recorder.log)
        }
        XCTAssertEqual(error?.kind, .emptyFolder)
    }

    func testFolderOfOnlyMislabelledFilesIsAnError() throws {
        try write(Array("text".utf8), "fake/one.jpg")
        try write(Array("text".utf8), "fake/two.png")
        let error = captureImageIOError {
            _ = try DatasetFolder.listSubject(in: self.folder.appendingPathComponent("fake"), classLabel: .face, log: self.recorder.log)
        }
        XCTAssertEqual(error?.kind, .noDecodableImages)
        XCTAssertTrue(error?.problem.contains("2 image files") ?? false, "got \(String(describing: error))")
    }

    func testFolderWhoseImagesAllFailIsAnError() throws {
        try write(Array(jpeg().prefix(150)), "bad/one.jpg")
        try write(Array(png().prefix(60)), "bad/two.png")
        let listing = try DatasetFolder.listSubject(
            in: folder.appendingPathComponent("bad"), classLabel: .cat, log: recorder.log)
        let error = captureImageIOError { _ = try SubjectDataset.load([listing], log: self.recorder.log) }
        XCTAssertEqual(error?.kind, .noDecodableImages)
        XCTAssertTrue(error?.description.contains("bad") ?? false, "the message must name the folder")
        XCTAssertTrue(error?.problem.contains("none of the 2 image files") ?? false, "got \(String(describing: error))")
    }

    func testMissingFolderIsAnError() {
        let error = captureImageIOError {
            _ = try DatasetFolder.listSubject(in: self.folder.appendingPathComponent("absent"), classLabel: .dog, log: self.recorder.log)
        }
        XCTAssertEqual(error?.kind, .missingData)
    }

    func testListingOrderIsSortedByName() throws {
        for name in ["b.png", "a.png", "10.png", "2.png"] {
            try write(png(), "order/\(name)")
        }
        let listing = try DatasetFolder.listSubject(in: folder.appendingPathComponent("order"), classLabel: .face, log: recorder.log)
        XCTAssertEqual(listing.files.map(\.lastPathComponent), ["10.png", "2.png", "a.png", "b.png"])
    }
}
