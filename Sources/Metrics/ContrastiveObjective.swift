import ImageIO
import TensorCore

/// The CLIP-I-style objective: symmetric InfoNCE over a batch of positive
/// pairs, every other pair's view serving as a negative.
///
/// A positive pair is two augmented views of one image, or, with probability
/// `identityPairProbability` when the class has identities, of two different
/// images of one identity. The pairs of a batch come from distinct subjects,
/// so no negative shares the anchor's identity. With unit embeddings
/// `a, b: [N, D]` and logits `L = a bᵀ / τ`, the loss is
/// `(CE(L, diag) + CE(Lᵀ, diag)) / 2`.
public final class ContrastiveObjective: FeatureTrainingObjective {
    public let net: FeatureNet
    public let data: FeatureTrainingSet
    /// Softmax temperature τ of the logits.
    public var temperature: Float = 0.1
    /// Probability that a pair is two images of one identity rather than two
    /// views of one image, when the class has subjects with two or more images.
    public var identityPairProbability: Float = 0.9
    /// Relative frequency of each class among the pairs. Cat faces have no
    /// identities, so they only teach invariance to the augmentations.
    public var classWeights: [SubjectClass: Float] = [.face: 2, .dog: 2, .cat: 1]
    /// Fraction of a batch's pairs drawn from one class, chosen per batch by
    /// `classWeights`. Most negatives then share the anchor's class, so the
    /// loss must tell identities apart rather than classes. The other pairs
    /// draw their class by `classWeights` each.
    public var focusClassFraction: Float = 0.75
    public var augmentation: ViewAugmentation

    private var lastAccuracy: Float = 0

    public init(net: FeatureNet, data: FeatureTrainingSet) {
        precondition(net.configuration.objective == .contrastive, "ContrastiveObjective: the net is not a contrastive net")
        self.net = net
        self.data = data
        // Milder crops than SimCLR's 0.08...1: two photos of one identity
        // already differ in pose and light, and a face crop is small.
        augmentation = ViewAugmentation(outputSize: net.configuration.imageSize, cropScale: 0.5...1)
    }

    public func loss(batchSize: Int, progress: Float, rng: inout SeededGenerator) -> Tensor {
        precondition(batchSize >= 2, "ContrastiveObjective: a batch needs at least 2 pairs for negatives, got \(batchSize)")
        let pairs = drawPairs(batchSize, rng: &rng)
        let first = augmentation.views(of: pairs.map(\.0), rng: &rng)
        let second = augmentation.views(of: pairs.map(\.1), rng: &rng)

        // Both views in one forward pass: [2N, 3, S, S] to [2N, D].
        let embeddings = net.project(net.backboneFeatures(Tensor.concat([first, second], axis: 0))).l2Normalized()
        let anchors = embeddings.sliced(axis: 0, 0..<batchSize)
        let positives = embeddings.sliced(axis: 0, batchSize..<(2 * batchSize))

        // logits [N, N]: row i compares anchor i with every positive.
        let logits = anchors.matmul(positives.transposedLastTwo()) * (1 / temperature)
        let targets = Array(0..<batchSize)
        let loss = (Tensor.crossEntropyLoss(logits: logits, targets: targets)
            + Tensor.crossEntropyLoss(logits: logits.transposedLastTwo(), targets: targets)) * 0.5
        lastAccuracy = rowArgmaxAccuracy(logits.data, size: batchSize)
        return loss
    }

    public var diagnostics: [(name: String, value: Float)] {
        [("acc", lastAccuracy)]
    }

    /// Draws `count` pairs of images from distinct subjects.
    func drawPairs(_ count: Int, rng: inout SeededGenerator) -> [(RGBImage, RGBImage)] {
        let focusClass = data.randomClass(weights: classWeights, rng: &rng)
        var used = Set<Int>()
        var pairs: [(RGBImage, RGBImage)] = []
        var attempts = 0
        while pairs.count < count {
            attempts += 1
            let classLabel = rng.uniform() < focusClassFraction ? focusClass : data.randomClass(weights: classWeights, rng: &rng)
            let multiImage = data.multiImageSubjectsByClass[classLabel] ?? []
            let identityPair = !multiImage.isEmpty && rng.uniform() < identityPairProbability
            let candidates = identityPair ? multiImage : data.subjectsByClass[classLabel]!
            let subject = candidates[rng.integer(in: 0..<candidates.count)]
            // A batch larger than the subjects of its classes would loop
            // forever, so repeats are allowed after many rejected draws.
            guard used.insert(subject).inserted || attempts > 20 * count else { continue }

            let references = data.dataset.randomImages(of: subject, count: identityPair ? 2 : 1, using: &rng)
            let first = data.dataset.image(references[0])
            let second = identityPair ? data.dataset.image(references[1]) : first
            pairs.append((first, second))
        }
        return pairs
    }
}

/// Fraction of rows of a `[N, N]` logit matrix whose maximum is on the
/// diagonal: how often the anchor picks its own positive.
func rowArgmaxAccuracy(_ logits: [Float], size: Int) -> Float {
    var correct = 0
    for row in 0..<size {
        var best = 0
        for column in 1..<size where logits[row * size + column] > logits[row * size + best] {
            best = column
        }
        if best == row { correct += 1 }
    }
    return Float(correct) / Float(max(size, 1))
}
