import ImageIO
import TensorCore

/// Training images of the feature nets with the indices the objectives draw
/// from: subjects per class, subjects with two or more images (identities
/// that give same-identity pairs), and every image of each class.
public struct FeatureTrainingSet: Sendable {
    public let dataset: SubjectDataset
    /// Classes present, in declaration order.
    public let classes: [SubjectClass]
    /// Subject indices per class.
    let subjectsByClass: [SubjectClass: [Int]]
    /// Subject indices per class whose subject has two or more images.
    let multiImageSubjectsByClass: [SubjectClass: [Int]]
    /// Every image of each class, for label-free draws.
    let imagesByClass: [SubjectClass: [SubjectDataset.ImageReference]]

    /// Indexes `dataset`. Subjects are identities only where the source has
    /// identity labels. A collection without them lists one image per subject.
    public init(_ dataset: SubjectDataset) {
        self.dataset = dataset
        classes = dataset.classes
        var subjects: [SubjectClass: [Int]] = [:]
        var multiImage: [SubjectClass: [Int]] = [:]
        var images: [SubjectClass: [SubjectDataset.ImageReference]] = [:]
        for (index, subject) in dataset.subjects.enumerated() {
            subjects[subject.classLabel, default: []].append(index)
            if subject.images.count >= 2 {
                multiImage[subject.classLabel, default: []].append(index)
            }
            for image in subject.images.indices {
                images[subject.classLabel, default: []].append(.init(subject: index, image: image))
            }
        }
        subjectsByClass = subjects
        multiImageSubjectsByClass = multiImage
        imagesByClass = images
    }

    /// Subjects of `classLabel` with two or more images.
    public func multiImageSubjectCount(of classLabel: SubjectClass) -> Int {
        multiImageSubjectsByClass[classLabel]?.count ?? 0
    }

    /// Draws a class with probability proportional to its weight. Classes
    /// without a weight count 1.
    func randomClass(weights: [SubjectClass: Float], rng: inout SeededGenerator) -> SubjectClass {
        let classWeights = classes.map { max(weights[$0] ?? 1, 0) }
        let total = classWeights.reduce(0, +)
        precondition(total > 0, "FeatureTrainingSet: every class weight is zero")
        var threshold = rng.uniform() * total
        for (classLabel, weight) in zip(classes, classWeights) {
            threshold -= weight
            if threshold < 0 { return classLabel }
        }
        return classes[classes.count - 1]
    }

    /// Draws one image of `classLabel` uniformly among all its images,
    /// without looking at identities.
    func randomImage(of classLabel: SubjectClass, rng: inout SeededGenerator) -> RGBImage {
        let candidates = imagesByClass[classLabel]!
        return dataset.image(candidates[rng.integer(in: 0..<candidates.count)])
    }
}
