/// Area under the ROC curve of a score that should rank positives above
/// negatives: the probability that a random positive outscores a random
/// negative, ties counting one half (the Mann–Whitney U statistic divided by
/// the number of positive-negative pairs). 0.5 is chance, 1 a perfect ranking.
///
/// Sorting makes it O((P + N) log(P + N)). Returns NaN when either list is
/// empty.
public func rocAUC(positiveScores: [Float], negativeScores: [Float]) -> Double {
    guard !positiveScores.isEmpty, !negativeScores.isEmpty else { return .nan }
    let labelled = (positiveScores.map { ($0, true) } + negativeScores.map { ($0, false) }).sorted { $0.0 < $1.0 }

    // Sum of the positives' ranks (1-based), with tied scores sharing the
    // mean rank of their run.
    var positiveRankSum = 0.0
    var start = 0
    while start < labelled.count {
        var end = start
        while end + 1 < labelled.count && labelled[end + 1].0 == labelled[start].0 { end += 1 }
        let meanRank = Double(start + end) / 2 + 1
        for index in start...end where labelled[index].1 {
            positiveRankSum += meanRank
        }
        start = end + 1
    }

    let positives = Double(positiveScores.count)
    let negatives = Double(negativeScores.count)
    let u = positiveRankSum - positives * (positives + 1) / 2
    return u / (positives * negatives)
}
