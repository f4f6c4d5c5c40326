import ImageIO
import TensorCore
import XCTest

final class SubjectDatasetTests: XCTestCase {
    /// Three face subjects with 1, 2 and 30 images and one cat with 2; each
    /// image is a flat grey whose level encodes subject and image.
    private func makeDataset() -> SubjectDataset {
        func subject(_ id: String, _ classLabel: SubjectClass, images: Int, base: Int) -> SubjectDataset.Subject {
            let images = (0..<images).map { RGBImage(width: 4, height: 4, color: RGBColor(gray: UInt8(base + $0))) }
            return SubjectDataset.Subject(
                id: id, classLabel: classLabel, images: images,
                files: images.indices.map { URL(fileURLWithPath: "/\(id)/\($0).png") })
        }
        return SubjectDataset(
            resolution: 4,
            subjects: [
                subject("faces/a", .face, images: 1, base: 0), subject("faces/b", .face, images: 2, base: 10),
                subject("faces/c", .face, images: 30, base: 100), subject("cats/d", .cat, images: 2, base: 200),
            ],
            manifest: DatasetManifest(entries: []))
    }

    func testClassesAndIndices() {
        let dataset = makeDataset()
        XCTAssertEqual(dataset.classes, [.face, .cat])
        XCTAssertEqual(dataset.subjectIndices(of: .face), [0, 1, 2])
        XCTAssertEqual(dataset.subjectIndices(of: .dog), [])
        XCTAssertEqual(dataset.imageCount, 35)
    }

    func testSamplingBySubjectIgnoresImageCounts() {
        let dataset = makeDataset()
        var generator = SeededGenerator(seed: 1)
        var counts = [Int](repeating: 0, count: 4)
        for _ in 0..<3000 {
            counts[dataset.randomSubject(of: .face, using: &generator)] += 1
        }
        XCTAssertEqual(counts[3], 0, "a face draw must never return the cat")
        for subject in 0..<3 {
            // 1000 expected per face subject; 5 standard deviations is about 130.
            XCTAssertEqual(Double(counts[subject]), 1000, accuracy: 130, "subject \(subject) is drawn uniformly")
        }
    }

    func testSamplingWithoutClassBalancesClasses() {
        let dataset = makeDataset()
        var generator = SeededGenerator(seed: 2)
        let cats = (0..<2000).filter { _ in dataset.randomSubject(using: &generator) == 3 }.count
        XCTAssertEqual(Double(cats), 1000, accuracy: 120, "the one cat gets half of the draws")
    }

    func testSameSeedGivesSameBatch() {
        let dataset = makeDataset()
        var first = SeededGenerator(seed: 9)
        var second = SeededGenerator(seed: 9)
        XCTAssertEqual(dataset.randomBatch(count: 16, using: &first), dataset.randomBatch(count: 16, using: &second))
    }

    func testRandomImagesAvoidRepeatsWhileTheyCan() {
        let dataset = makeDataset()
        var generator = SeededGenerator(seed: 4)
        let drawn = dataset.randomImages(of: 2, count: 30, using: &generator)
        XCTAssertEqual(Set(drawn.map(\.image)).count, 30, "30 draws from 30 images must not repeat")
        let more = dataset.randomImages(of: 0, count: 3, using: &generator)
        XCTAssertEqual(more.map(\.image), [0, 0, 0], "a one-image subject repeats its image")
    }

    func testTensorOfBatchHasShapeAndFlips() throws {
        let dataset = makeDataset()
        var generator = SeededGenerator(seed: 5)
        let references = [SubjectDataset.ImageReference(subject: 3, image: 1)]
        let tensor = dataset.tensor(references, using: &generator)
        XCTAssertEqual(tensor.shape, [1, 3, 4, 4])
        XCTAssertEqual(try RGBImage(tensor: tensor), dataset.image(references[0]))
    }

    func testFlipProbabilityOneMirrorsEveryImage() throws {
        var image = RGBImage(width: 4, height: 4, color: .black)
        image[0, 0] = .white
        let dataset = SubjectDataset(
            resolution: 4,
            subjects: [SubjectDataset.Subject(id: "x/y", classLabel: .dog, images: [image], files: [URL(fileURLWithPath: "/y")])],
            manifest: DatasetManifest(entries: []))
        var generator = SeededGenerator(seed: 6)
        let flipped = try RGBImage(
            tensor: dataset.tensor([.init(subject: 0, image: 0)], flipProbability: 1, using: &generator))
        XCTAssertEqual(flipped[3, 0], .white)
        XCTAssertEqual(flipped[0, 0], .black)
    }
}
