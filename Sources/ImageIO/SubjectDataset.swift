import Foundation
import TensorCore

/// Prepared images grouped by subject and class, held in memory as 8-bit
/// pixels (R * R * 3 bytes per image), for training code that samples by
/// subject and class rather than by file.
///
/// Sampling by subject keeps a subject with hundreds of photos (LFW's
/// George_W_Bush has 530) from dominating one with two.
public struct SubjectDataset: Sendable {
    /// One subject's prepared images.
    public struct Subject: Sendable {
        /// Identifier unique across collections ("collection/name").
        public let id: String
        public let classLabel: SubjectClass
        /// `resolution` x `resolution` images, in the sorted order of their files.
        public let images: [RGBImage]
        /// Source file of each image, in the order of `images`.
        public let files: [URL]

        public init(id: String, classLabel: SubjectClass, images: [RGBImage], files: [URL]) {
            self.id = id
            self.classLabel = classLabel
            self.images = images
            self.files = files
        }
    }

    /// An image of the dataset: indices into `subjects` and its `images`.
    public struct ImageReference: Hashable, Sendable {
        public let subject: Int
        public let image: Int

        public init(subject: Int, image: Int) {
            self.subject = subject
            self.image = image
        }
    }

    /// Side R of every image.
    public let resolution: Int
    public let subjects: [Subject]
    /// Every decoded file with its hash, in the order of `subjects`.
    public let manifest: DatasetManifest
    /// Indices into `subjects` for each class present.
    public let subjectIndicesByClass: [SubjectClass: [Int]]

    /// Classes with at least one subject, in declaration order.
    public var classes: [SubjectClass] {
        subjectIndicesByClass.keys.sorted()
    }

    public var imageCount: Int {
        subjects.reduce(0) { $0 + $1.images.count }
    }

    /// Indices into `subjects` of the subjects of `classLabel`.
    public func subjectIndices(of classLabel: SubjectClass) -> [Int] {
        subjectIndicesByClass[classLabel] ?? []
    }

    /// Draws a subject: uniformly among the subjects of `classLabel`, or,
    /// when it is nil, first a class uniformly among `classes` and then a
    /// subject of that class.
    public func randomSubject(of classLabel: SubjectClass? = nil, using generator: inout SeededGenerator) -> Int {
        let chosenClass = classLabel ?? classes[generator.integer(in: 0..<classes.count)]
        let candidates = subjectIndices(of: chosenClass)
        precondition(!candidates.isEmpty, "randomSubject: the dataset has no subject of class \(chosenClass)")
        return candidates[generator.integer(in: 0..<candidates.count)]
    }

    /// Draws `count` images of one subject, without repeats while the
    /// subject has enough images and with repeats beyond that.
    public func randomImages(of subject: Int, count: Int, using generator: inout SeededGenerator) -> [ImageReference] {
        let available = subjects[subject].images.count
        var order = Array(0..<available)
        generator.shuffle(&order)
        return (0..<count).map { index in
            let image = index < available ? order[index] : generator.integer(in: 0..<available)
            return ImageReference(subject: subject, image: image)
        }
    }

    /// Draws `count` images, each from a freshly drawn subject (see
    /// `randomSubject`) and a uniformly drawn image of that subject.
    public func randomBatch(
        count: Int, classLabel: SubjectClass? = nil, using generator: inout SeededGenerator
    ) -> [ImageReference] {
        (0..<count).map { _ in
            let subject = randomSubject(of: classLabel, using: &generator)
            return ImageReference(subject: subject, image: generator.integer(in: 0..<subjects[subject].images.count))
        }
    }

    public func image(_ reference: ImageReference) -> RGBImage {
        subjects[reference.subject].images[reference.image]
    }

    /// Returns the referenced images as a `[B, 3, R, R]` tensor in [-1, 1]. Each
    /// image is mirrored with probability `flipProbability`.
    public func tensor(
        _ references: [ImageReference], flipProbability: Float = 0, using generator: inout SeededGenerator
    ) -> Tensor {
        var images: [RGBImage] = []
        images.reserveCapacity(references.count)
        for reference in references {
            let image = image(reference)
            let flips = flipProbability > 0 && generator.uniform() < flipProbability
            images.append(flips ? image.flippedHorizontally() : image)
        }
        return batchTensor(images)
    }
}
