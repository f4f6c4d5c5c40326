import TensorCore
import XCTest
@testable import Metrics

final class NearestNeighbourClassifierTests: XCTestCase {
    /// Three references near (1, 0) labelled 0 and two near (0, 1) labelled 1.
    private let references = Tensor(shape: [5, 2], data: [1, 0, 0.96, 0.28, 0.8, 0.6, 0, 1, 0.28, 0.96])
    private let labels = [0, 0, 0, 1, 1]

    func testMajorityOfNearestReferencesWins() {
        let classifier = NearestNeighbourClassifier(references: references, labels: labels, classCount: 2, k: 3)
        let queries = Tensor(shape: [2, 2], data: [0.99, 0.14, 0.14, 0.99])

        // (0.14, 0.99): neighbours (0, 1), (0.28, 0.96), (0.8, 0.6): two votes for 1.
        XCTAssertEqual(classifier.classify(queries), [0, 1])
    }

    func testAgreementIsTheFractionOfTheLabel() {
        let classifier = NearestNeighbourClassifier(references: references, labels: labels, classCount: 2, k: 1)
        let queries = Tensor(shape: [3, 2], data: [1, 0, 0, 1, 0.4, 0.92])

        XCTAssertEqual(classifier.agreement(queries, label: 1), 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(classifier.agreement(queries, label: 0), 1.0 / 3.0, accuracy: 1e-12)
    }

    func testLeaveOneOutSkipsTheQueryItself() {
        let classifier = NearestNeighbourClassifier(references: references, labels: labels, classCount: 2, k: 1)

        let withSelf = classifier.classify(references)
        let leftOut = classifier.classify(references, excludingReference: true)

        XCTAssertEqual(withSelf, labels, "each reference is its own nearest neighbour")
        // (0.8, 0.6) has (0.96, 0.28) nearest once itself is left out.
        XCTAssertEqual(leftOut[2], 0)
        // (0.28, 0.96) has (0, 1) nearest, and (0, 1) has (0.28, 0.96).
        XCTAssertEqual(leftOut[3], 1)
        XCTAssertEqual(leftOut[4], 1)
    }

    func testTieGoesToTheNearerLabel() {
        let classifier = NearestNeighbourClassifier(references: references, labels: labels, classCount: 2, k: 2)
        // Nearest are (0.28, 0.96) then (0.8, 0.6): one vote each, and label 1 is nearer.
        XCTAssertEqual(classifier.classify(Tensor(shape: [1, 2], data: [0.5, 0.866])), [1])
    }
}
