import ImageIO
import XCTest

final class DatasetFolderTests: XCTestCase {
    private var root: URL!
    private var recorder: LogRecorder!

    override func setUpWithError() throws {
        root = try makeTemporaryFolder(for: self)
        recorder = LogRecorder()
    }

    private func writeImage(_ relativePath: String, gray: UInt8 = 128) throws {
        let file = root.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ImageEncoder.writePNG(RGBImage(width: 24, height: 24, color: RGBColor(gray: gray)), to: file)
    }

    func testSubjectFoldersBecomeSubjects() throws {
        try writeImage("people/alice/1.png")
        try writeImage("people/alice/2.png")
        try writeImage("people/bob/1.png")
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("people/empty"), withIntermediateDirectories: true)
        try writeImage("people/.cache/x.png")

        let subjects = try DatasetFolder.listSubjects(
            in: root.appendingPathComponent("people"), layout: .subjectFolders(.face), log: recorder.log)
        XCTAssertEqual(subjects.map(\.id), ["people/alice", "people/bob"])
        XCTAssertEqual(subjects.map(\.files.count), [2, 1])
        XCTAssertTrue(recorder.lines.contains { $0.contains("people/empty") }, "the empty folder must be logged")
        XCTAssertTrue(recorder.lines.contains { $0.contains("skipped 1 entry") }, "the hidden folder must be counted")
    }

    func testFlatFolderMakesOneSubjectPerImage() throws {
        try writeImage("celebs/000001.png")
        try writeImage("celebs/000002.png")
        let subjects = try DatasetFolder.listSubjects(
            in: root.appendingPathComponent("celebs"), layout: .automatic(.face), log: recorder.log)
        XCTAssertEqual(subjects.map(\.name), ["000001.png", "000002.png"])
        XCTAssertEqual(subjects.map(\.files.count), [1, 1])
    }

    func testAFHQClassFoldersMapToClasses() throws {
        try writeImage("afhq/train/cat/flickr_cat_000002.png")
        try writeImage("afhq/train/cat/flickr_cat_000003.png")
        try writeImage("afhq/train/dog/flickr_dog_000001.png")
        try writeImage("afhq/train/wild/flickr_wild_000001.png")
        let subjects = try DatasetFolder.listSubjects(
            in: root.appendingPathComponent("afhq/train"), layout: .classFolders, collection: "afhq", log: recorder.log)
        XCTAssertEqual(subjects.map(\.classLabel), [.cat, .cat, .dog])
        XCTAssertEqual(subjects.first?.id, "afhq/cat/flickr_cat_000002.png")
        XCTAssertTrue(recorder.lines.contains { $0.contains("wild") }, "the unknown class folder must be logged")
    }

    func testAutomaticLayoutDetectsClassFolders() throws {
        try writeImage("pets/cats/a.png")
        try writeImage("pets/dogs/b.png")
        let subjects = try DatasetFolder.listSubjects(
            in: root.appendingPathComponent("pets"), layout: .automatic(.face), log: recorder.log)
        XCTAssertEqual(subjects.map(\.classLabel), [.cat, .dog])
    }

    func testAutomaticLayoutDetectsSubjectFolders() throws {
        try writeImage("dogs/rex/a.png")
        try writeImage("dogs/fido/b.png")
        let subjects = try DatasetFolder.listSubjects(
            in: root.appendingPathComponent("dogs"), layout: .automatic(.dog), log: recorder.log)
        XCTAssertEqual(subjects.map(\.name), ["fido", "rex"])
        XCTAssertEqual(subjects.map(\.classLabel), [.dog, .dog])
    }

    func testDatasetWithoutImagesIsAnError() throws {
        try FileManager.default.createDirectory(at: root.appendingPathComponent("none/a"), withIntermediateDirectories: true)
        let error = captureImageIOError {
            _ = try DatasetFolder.listSubjects(
                in: self.root.appendingPathComponent("none"), layout: .subjectFolders(.face), log: self.recorder.log)
        }
        XCTAssertEqual(error?.kind, .emptyFolder)
    }

    func testManifestRecordsEveryFileWithHash() throws {
        try writeImage("set/alice/1.png", gray: 10)
        try writeImage("set/bob/1.png", gray: 200)
        let subjects = try DatasetFolder.listSubjects(
            in: root.appendingPathComponent("set"), layout: .subjectFolders(.face), log: recorder.log)
        let dataset = try SubjectDataset.load(subjects, preparation: ImagePreparation(resolution: 8), log: recorder.log)
        let manifest = dataset.manifest

        XCTAssertEqual(manifest.entries.map(\.file), ["alice/1.png", "bob/1.png"], "paths relative to the root")
        let bytes = [UInt8](try Data(contentsOf: root.appendingPathComponent("set/alice/1.png")))
        XCTAssertEqual(manifest.entries[0].sha256, SHA256.hexDigest(of: bytes))
        XCTAssertEqual(manifest.entries[0].byteCount, bytes.count)
        XCTAssertEqual(manifest.entries[0].width, 24)
        XCTAssertEqual(manifest.entries[0].classLabel, .face)
        XCTAssertEqual(manifest.entries[1].subject, "set/bob")
    }

    func testManifestTextRoundTripsAndHashIsStable() throws {
        try writeImage("set/alice/1.png")
        let subjects = try DatasetFolder.listSubjects(
            in: root.appendingPathComponent("set"), layout: .subjectFolders(.face), log: recorder.log)
        let first = try SubjectDataset.load(subjects, preparation: ImagePreparation(resolution: 8), log: recorder.log)
        let second = try SubjectDataset.load(subjects, preparation: ImagePreparation(resolution: 8), log: recorder.log)
        XCTAssertEqual(first.manifest.sha256, second.manifest.sha256, "the same files must give the same hash")
        XCTAssertEqual(try DatasetManifest(text: first.manifest.text), first.manifest)

        let file = DatasetManifest.defaultURL(repositoryRoot: root, name: "set")
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        let written = try first.manifest.write(to: file)
        XCTAssertEqual(written, first.manifest.sha256)
        XCTAssertEqual(SHA256.hexDigest(of: [UInt8](try Data(contentsOf: file))), written)
        XCTAssertEqual(file.lastPathComponent, "set.manifest.tsv")
    }

    func testManifestEscapesAwkwardNames() throws {
        let entry = DatasetManifest.Entry(
            subject: "odd\tname", classLabel: .cat, file: "a\\b\r\nc.png", byteCount: 1, width: 2, height: 3,
            sha256: String(repeating: "0", count: 64))
        let manifest = DatasetManifest(entries: [entry])
        XCTAssertEqual(manifest.text.split(separator: "\n").count, 3, "one format line, one header, one entry")
        XCTAssertEqual(try DatasetManifest(text: manifest.text).entries, [entry])
    }

    func testMalformedManifestIsRejected() {
        let error = captureImageIOError { _ = try DatasetManifest(text: "subject\tfile\n") }
        XCTAssertEqual(error?.kind, .invalidArgument)
    }

    func testChangedFileChangesManifestHash() throws {
        try writeImage("set/alice/1.png", gray: 10)
        let subjects = try DatasetFolder.listSubjects(
            in: root.appendingPathComponent("set"), layout: .subjectFolders(.face), log: recorder.log)
        let before = try SubjectDataset.load(subjects, preparation: ImagePreparation(resolution: 8), log: recorder.log)
        try writeImage("set/alice/1.png", gray: 11)
        let after = try SubjectDataset.load(subjects, preparation: ImagePreparation(resolution: 8), log: recorder.log)
        XCTAssertNotEqual(before.manifest.sha256, after.manifest.sha256)
    }
}
