import ImageIO
import TensorCore

/// Verification on identity pairs: how well a net's cosine separates
/// same-identity from different-identity pairs.
public struct VerificationResult: Codable, Equatable, Sendable {
    /// Collection of the identities, such as "lfw".
    public let collection: String
    /// Description of where the pairs came from.
    public let pairSource: String
    public let matchedPairs: Int
    public let mismatchedPairs: Int
    /// ROC-AUC of the cosine, same identity as the positive class.
    public let auc: Double
    /// Mean cosine of the same-identity and of the different-identity pairs.
    public let matchedMean: Double
    public let mismatchedMean: Double

    enum CodingKeys: String, CodingKey {
        case collection
        case pairSource = "pair_source"
        case matchedPairs = "matched_pairs"
        case mismatchedPairs = "mismatched_pairs"
        case auc
        case matchedMean = "matched_mean"
        case mismatchedMean = "mismatched_mean"
    }
}

/// The ordering check on the subjects of one collection: a subject's images
/// should be closer to each other than to other subjects of the class, and
/// those closer than images of another class.
public struct OrderingResult: Codable, Equatable, Sendable {
    public let collection: String
    /// Collection that serves as the other class, such as "cat_faces".
    public let otherClass: String
    /// Subjects with two or more images, the ones the check covers.
    public let subjects: Int
    /// Means over subjects of three per-subject means. `ownMean` averages the
    /// cosines between different images of the subject. `sameClassMean`
    /// averages those between its images and the other subjects' images, and
    /// `otherClassMean` those between its images and the other class.
    public let ownMean: Double
    public let sameClassMean: Double
    public let otherClassMean: Double
    /// Fraction of subjects whose own three means are in that order.
    public let fractionInOrder: Double

    /// Whether the three means over subjects are in the expected order.
    public var holds: Bool { ownMean > sameClassMean && sameClassMean > otherClassMean }

    enum CodingKeys: String, CodingKey {
        case collection
        case otherClass = "other_class"
        case subjects
        case ownMean = "own_mean"
        case sameClassMean = "same_class_mean"
        case otherClassMean = "other_class_mean"
        case fractionInOrder = "fraction_in_order"
        case holds
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(collection, forKey: .collection)
        try container.encode(otherClass, forKey: .otherClass)
        try container.encode(subjects, forKey: .subjects)
        try container.encode(ownMean, forKey: .ownMean)
        try container.encode(sameClassMean, forKey: .sameClassMean)
        try container.encode(otherClassMean, forKey: .otherClassMean)
        try container.encode(fractionInOrder, forKey: .fractionInOrder)
        try container.encode(holds, forKey: .holds)
    }

    public init(
        collection: String, otherClass: String, subjects: Int, ownMean: Double, sameClassMean: Double,
        otherClassMean: Double, fractionInOrder: Double
    ) {
        self.collection = collection
        self.otherClass = otherClass
        self.subjects = subjects
        self.ownMean = ownMean
        self.sameClassMean = sameClassMean
        self.otherClassMean = otherClassMean
        self.fractionInOrder = fractionInOrder
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            collection: try container.decode(String.self, forKey: .collection),
            otherClass: try container.decode(String.self, forKey: .otherClass),
            subjects: try container.decode(Int.self, forKey: .subjects),
            ownMean: try container.decode(Double.self, forKey: .ownMean),
            sameClassMean: try container.decode(Double.self, forKey: .sameClassMean),
            otherClassMean: try container.decode(Double.self, forKey: .otherClassMean),
            fractionInOrder: try container.decode(Double.self, forKey: .fractionInOrder))
    }
}

/// Unit embeddings of every image of a `SubjectDataset`, grouped by subject.
public struct SubjectEmbeddings: Sendable {
    public let dataset: SubjectDataset
    public let width: Int
    /// Per subject, its images' embeddings back to back, `[n_s, width]`.
    let rowsBySubject: [[Float]]

    /// Embeds every image of `dataset` with `net`.
    public init(net: FeatureNet, dataset: SubjectDataset) {
        self.dataset = dataset
        width = net.configuration.embeddingWidth
        let all = net.embeddings(of: dataset.subjects.flatMap(\.images)).data
        var rows: [[Float]] = []
        var offset = 0
        for subject in dataset.subjects {
            let count = subject.images.count * width
            rows.append(Array(all[offset..<(offset + count)]))
            offset += count
        }
        rowsBySubject = rows
    }

    /// Returns the cosine of two images, a dot product because the embeddings
    /// are unit rows.
    public func cosine(_ a: SubjectDataset.ImageReference, _ b: SubjectDataset.ImageReference) -> Float {
        let first = rowsBySubject[a.subject], second = rowsBySubject[b.subject]
        var dot: Float = 0
        for k in 0..<width { dot += first[a.image * width + k] * second[b.image * width + k] }
        return dot
    }

    /// Computes the ROC-AUC and the means of the cosine over `pairs`.
    public func verify(_ pairs: [VerificationPair], collection: String, pairSource: String) -> VerificationResult {
        let matched = pairs.filter(\.isSameIdentity).map { cosine($0.first, $0.second) }
        let mismatched = pairs.filter { !$0.isSameIdentity }.map { cosine($0.first, $0.second) }
        return VerificationResult(
            collection: collection, pairSource: pairSource, matchedPairs: matched.count,
            mismatchedPairs: mismatched.count,
            auc: rocAUC(positiveScores: matched, negativeScores: mismatched),
            matchedMean: meanOf(matched), mismatchedMean: meanOf(mismatched))
    }

    /// Runs the ordering check of every subject with two or more images
    /// against the other subjects and against `otherClass` embeddings
    /// `[M, width]`.
    ///
    /// Means over pairs are computed from sums of unit vectors: for sums
    /// `u = Σ_i e_i` (n images) and `v = Σ_j f_j` (m images), the mean cosine
    /// over all pairs is `u·v / (n m)`, and over pairs of different images of
    /// one subject `(|u|² − n) / (n (n − 1))`.
    public func ordering(against otherClass: Tensor, collection: String, otherClassName: String) -> OrderingResult {
        precondition(otherClass.rank == 2 && otherClass.shape[1] == width, "ordering: other class must be [M, \(width)], got \(otherClass.shape)")
        let sums = rowsBySubject.map { columnSums($0, width: width) }
        let total = sums.reduce([Float](repeating: 0, count: width)) { zip($0, $1).map { $0 + $1 } }
        let totalCount = dataset.imageCount
        let otherSum = columnSums(otherClass.data, width: width)
        let otherCount = otherClass.shape[0]

        var own = 0.0, sameClass = 0.0, other = 0.0
        var inOrder = 0, covered = 0
        for (index, subject) in dataset.subjects.enumerated() where subject.images.count >= 2 && totalCount > subject.images.count {
            let n = Double(subject.images.count)
            let u = sums[index]
            let rest = zip(total, u).map { $0 - $1 }
            let ownMean = (dot(u, u) - n) / (n * (n - 1))
            let sameClassMean = dot(u, rest) / (n * Double(totalCount - subject.images.count))
            let otherMean = dot(u, otherSum) / (n * Double(otherCount))
            own += ownMean
            sameClass += sameClassMean
            other += otherMean
            covered += 1
            if ownMean > sameClassMean && sameClassMean > otherMean { inOrder += 1 }
        }
        let subjects = Double(max(covered, 1))
        return OrderingResult(
            collection: collection, otherClass: otherClassName, subjects: covered, ownMean: own / subjects,
            sameClassMean: sameClass / subjects, otherClassMean: other / subjects,
            fractionInOrder: Double(inOrder) / subjects)
    }
}

private func columnSums(_ rows: [Float], width: Int) -> [Float] {
    var sums = [Float](repeating: 0, count: width)
    for row in 0..<(rows.count / width) {
        for k in 0..<width { sums[k] += rows[row * width + k] }
    }
    return sums
}

private func dot(_ a: [Float], _ b: [Float]) -> Double {
    var total = 0.0
    for (x, y) in zip(a, b) { total += Double(x) * Double(y) }
    return total
}

private func meanOf(_ values: [Float]) -> Double {
    values.isEmpty ? .nan : values.reduce(0.0) { $0 + Double($1) } / Double(values.count)
}
