import Foundation
import ImageIO
import TensorCore
import XCTest
@testable import Metrics

final class ValidationTests: XCTestCase {
    func testAUCOfSeparatedScores() {
        XCTAssertEqual(rocAUC(positiveScores: [0.9, 0.8], negativeScores: [0.1, 0.2, 0.3]), 1)
        XCTAssertEqual(rocAUC(positiveScores: [0.1], negativeScores: [0.5, 0.6]), 0)
    }

    func testAUCCountsTiesAsHalf() {
        XCTAssertEqual(rocAUC(positiveScores: [0.5, 0.5], negativeScores: [0.5]), 0.5)
        // Positive 0.4 beats 0.2, ties 0.4 and loses to 0.6; positive 0.8
        // beats all three negatives: (1 + 0.5 + 0 + 3) / 6 pairs.
        let auc = rocAUC(positiveScores: [0.4, 0.8], negativeScores: [0.2, 0.4, 0.6])
        XCTAssertEqual(auc, 0.75, accuracy: 1e-12)
    }

    func testAUCOfEmptyListIsNaN() {
        XCTAssertTrue(rocAUC(positiveScores: [], negativeScores: [1]).isNaN)
        XCTAssertTrue(rocAUC(positiveScores: [1], negativeScores: []).isNaN)
    }

    func testLFWPairsParse() {
        let text = "10\t300\nAbel_Pacheco\t1\t4\nAbdel_Madi_Shabneh\t1\tDean_Barker\t1\nbroken line\n"
        let entries = LFWPairEntry.parse(text)

        XCTAssertEqual(entries.count, 2, "the header and the malformed line are skipped")
        XCTAssertEqual(entries.first, LFWPairEntry(firstName: "Abel_Pacheco", firstNumber: 1, secondName: "Abel_Pacheco", secondNumber: 4))
        XCTAssertTrue(entries[0].isMatched)
        XCTAssertFalse(entries[1].isMatched)
    }

    func testLFWPairsMapToDatasetImages() {
        let subjects = ["Ann_Smith", "Bob_Jones"].map { name in
            SubjectDataset.Subject(
                id: "lfw/\(name)", classLabel: .face,
                images: [syntheticImage(subject: 0, variant: 0), syntheticImage(subject: 0, variant: 1)],
                files: [1, 2].map { URL(fileURLWithPath: "/lfw/\(name)/\(name)_000\($0).jpg") })
        }
        let dataset = SubjectDataset(resolution: 16, subjects: subjects, manifest: DatasetManifest(entries: []))
        let entries = LFWPairEntry.parse("1\t3\nAnn_Smith\t1\t2\nAnn_Smith\t2\tBob_Jones\t1\nAnn_Smith\t1\t7\nCarl_Other\t1\t2\n")

        let pairs = VerificationPairs.fromLFW(entries, in: dataset)

        XCTAssertEqual(pairs.count, 2, "pairs with a missing image or person are left out")
        XCTAssertEqual(pairs[0], VerificationPair(.init(subject: 0, image: 0), .init(subject: 0, image: 1)))
        XCTAssertEqual(pairs[1], VerificationPair(.init(subject: 0, image: 1), .init(subject: 1, image: 0)))
    }

    func testSampledPairsAreDistinctAndLabelled() {
        let dataset = syntheticDataset(subjects: 6, imagesPerSubject: 3)

        let pairs = VerificationPairs.sample(from: dataset, count: 20, seed: 5)
        let again = VerificationPairs.sample(from: dataset, count: 20, seed: 5)

        XCTAssertEqual(pairs, again, "a seed fixes the pairs")
        XCTAssertEqual(pairs.filter(\.isSameIdentity).count, 18, "6 subjects with 3 images have only 18 distinct same pairs")
        XCTAssertEqual(pairs.filter { !$0.isSameIdentity }.count, 20)
        XCTAssertEqual(Set(pairs).count, pairs.count, "no pair repeats")
        for pair in pairs where pair.isSameIdentity {
            XCTAssertNotEqual(pair.first.image, pair.second.image, "a same-identity pair uses two images")
        }
    }

    func testVerificationAndOrderingOfSeparableSubjects() {
        // An untrained net still maps the noise variants of one synthetic
        // subject close together, which is enough to test the bookkeeping.
        let dataset = syntheticDataset(subjects: 6, imagesPerSubject: 3)
        let net = FeatureNet(tinyConfiguration(.selfDistillation), seed: 1)
        let embeddings = SubjectEmbeddings(net: net, dataset: dataset)
        let pairs = VerificationPairs.sample(from: dataset, count: 10, seed: 1)

        let verification = embeddings.verify(pairs, collection: "synthetic", pairSource: "test")
        let other = net.embeddings(of: (20..<24).map { syntheticImage(subject: $0, variant: 0) })
        let ordering = embeddings.ordering(against: other, collection: "synthetic", otherClassName: "others")

        XCTAssertEqual(verification.matchedPairs, 10)
        XCTAssertEqual(verification.mismatchedPairs, 10)
        XCTAssertGreaterThan(verification.auc, 0.5)
        XCTAssertEqual(ordering.subjects, 6)
        XCTAssertGreaterThan(ordering.ownMean, ordering.sameClassMean)
    }

    func testOrderingMeansMatchDirectAverages() {
        // Two subjects, with the means from sums checked against plain loops
        // over pairs.
        let dataset = syntheticDataset(subjects: 2, imagesPerSubject: 2)
        let net = FeatureNet(tinyConfiguration(.contrastive), seed: 6)
        let embeddings = SubjectEmbeddings(net: net, dataset: dataset)
        let other = net.embeddings(of: [syntheticImage(subject: 9, variant: 0)])
        let ordering = embeddings.ordering(against: other, collection: "synthetic", otherClassName: "other")

        let reference = { (subject: Int, image: Int) in SubjectDataset.ImageReference(subject: subject, image: image) }
        var own = 0.0, same = 0.0, otherMean = 0.0
        for subject in 0..<2 {
            own += Double(embeddings.cosine(reference(subject, 0), reference(subject, 1)))
            var sameTotal = 0.0
            for i in 0..<2 {
                for j in 0..<2 { sameTotal += Double(embeddings.cosine(reference(subject, i), reference(1 - subject, j))) }
            }
            same += sameTotal / 4
            var otherTotal = 0.0
            for i in 0..<2 {
                let row = embeddings.rowsBySubject[subject][(i * embeddings.width)..<((i + 1) * embeddings.width)]
                otherTotal += zip(row, other.data).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            otherMean += otherTotal / 2
        }

        XCTAssertEqual(ordering.ownMean, own / 2, accuracy: 1e-5)
        XCTAssertEqual(ordering.sameClassMean, same / 2, accuracy: 1e-5)
        XCTAssertEqual(ordering.otherClassMean, otherMean / 2, accuracy: 1e-5)
    }
}
