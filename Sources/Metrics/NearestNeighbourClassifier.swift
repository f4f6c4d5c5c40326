import TensorCore

/// A k-nearest-neighbour vote over labelled reference embeddings: each query
/// takes the label most common among the `k` references of highest cosine.
public struct NearestNeighbourClassifier {
    /// Reference embeddings, unit rows `[N, D]`, and the label of each row.
    public let references: Tensor
    public let labels: [Int]
    /// Number of distinct labels; labels run from 0 to `classCount - 1`.
    public let classCount: Int
    /// References that vote for each query.
    public let k: Int

    /// - Precondition: one label per reference row, labels in
    ///   `0..<classCount`, and `k` between 1 and the number of references.
    public init(references: Tensor, labels: [Int], classCount: Int, k: Int) {
        precondition(references.rank == 2 && references.shape[0] == labels.count, "NearestNeighbourClassifier: one label per reference row")
        precondition(labels.allSatisfy { (0..<classCount).contains($0) }, "NearestNeighbourClassifier: labels must be in 0..<\(classCount)")
        precondition(k >= 1 && k <= labels.count, "NearestNeighbourClassifier: k \(k) must be between 1 and the \(labels.count) references")
        self.references = references
        self.labels = labels
        self.classCount = classCount
        self.k = k
    }

    /// Returns the voted label of each row of `queries` (`[M, D]`, unit
    /// rows). With `excludingReference`, row `i` of the queries is reference
    /// row `i` and does not vote for itself, which scores the references by
    /// leave-one-out. Ties go to the label whose best neighbour is nearer.
    public func classify(_ queries: Tensor, excludingReference: Bool = false) -> [Int] {
        let width = references.shape[1]
        precondition(queries.rank == 2 && queries.shape[1] == width, "NearestNeighbourClassifier: queries must be [M, \(width)], got \(queries.shape)")
        precondition(!excludingReference || queries.shape[0] == labels.count, "NearestNeighbourClassifier: leave-one-out needs the references as queries")
        let cosines = GradMode.withoutGradients { queries.matmul(references.transposedLastTwo()) }.data
        let count = labels.count
        return (0..<queries.shape[0]).map { row in
            var candidates = Array(0..<count)
            if excludingReference { candidates.remove(at: row) }
            let nearest = candidates
                .sorted { cosines[row * count + $0] > cosines[row * count + $1] }
                .prefix(k)
            var votes = [Int](repeating: 0, count: classCount)
            for reference in nearest { votes[labels[reference]] += 1 }
            let topVotes = votes.max() ?? 0
            // The first of the nearest references whose label has the top vote count.
            return nearest.map { labels[$0] }.first { votes[$0] == topVotes } ?? 0
        }
    }

    /// Returns the fraction of `queries` classified as `label`.
    public func agreement(_ queries: Tensor, label: Int) -> Double {
        let classified = classify(queries)
        guard !classified.isEmpty else { return 0 }
        return Double(classified.filter { $0 == label }.count) / Double(classified.count)
    }
}
