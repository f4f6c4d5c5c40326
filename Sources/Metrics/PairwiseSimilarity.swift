import TensorCore

/// Cosine similarities between every generated and every reference image,
/// and their means: the CLIP-I and DINO scores as DreamBooth defines
/// them, the mean over all (generated, reference) pairs.
///
/// The overall mean is the same whether it is taken over all pairs at once,
/// over the per-generated-image means, or over the per-reference-image
/// means, and swapping the two sets gives the same score.
public struct PairwiseSimilarity: Sendable {
    public let generatedCount: Int
    public let referenceCount: Int
    /// Cosines `[G, R]` in row-major order.
    public let cosines: [Float]

    /// Compares embeddings `generated: [G, D]` with `reference: [R, D]`.
    /// Rows are normalized here, so unnormalized embeddings give cosines too.
    public init(generated: Tensor, reference: Tensor) {
        precondition(
            generated.rank == 2 && reference.rank == 2 && generated.shape[1] == reference.shape[1],
            "PairwiseSimilarity: embeddings must be [G, D] and [R, D], got \(generated.shape) and \(reference.shape)")
        precondition(
            generated.shape[0] > 0 && reference.shape[0] > 0,
            "PairwiseSimilarity: both sets need at least one embedding, got \(generated.shape[0]) and \(reference.shape[0])")
        generatedCount = generated.shape[0]
        referenceCount = reference.shape[0]
        let product = GradMode.withoutGradients {
            generated.l2Normalized().matmul(reference.l2Normalized().transposedLastTwo())
        }
        cosines = product.data
    }

    /// Mean cosine over all `G × R` pairs, accumulated in Double.
    public var mean: Double {
        cosines.reduce(0.0) { $0 + Double($1) } / Double(cosines.count)
    }

    /// Mean cosine of each generated image against every reference, `[G]`.
    public var generatedMeans: [Double] {
        (0..<generatedCount).map { row in
            var total = 0.0
            for column in 0..<referenceCount { total += Double(cosines[row * referenceCount + column]) }
            return total / Double(referenceCount)
        }
    }

    /// Mean cosine of each reference image against every generated image, `[R]`.
    public var referenceMeans: [Double] {
        (0..<referenceCount).map { column in
            var total = 0.0
            for row in 0..<generatedCount { total += Double(cosines[row * referenceCount + column]) }
            return total / Double(generatedCount)
        }
    }
}
