import XCTest
@testable import CommandLineKit

final class SuggestionTests: XCTestCase {
    func testEditDistance() {
        XCTAssertEqual(Suggestions.editDistance("steps", "steps"), 0)
        XCTAssertEqual(Suggestions.editDistance("stepz", "steps"), 1)
        XCTAssertEqual(Suggestions.editDistance("setps", "steps"), 1, "a swap of neighbours costs 1")
        XCTAssertEqual(Suggestions.editDistance("seed", "steps"), 3)
        XCTAssertEqual(Suggestions.editDistance("", "abc"), 3)
        XCTAssertEqual(Suggestions.editDistance("kitten", "sitting"), 3)
    }

    func testRankingClosestFirst() {
        let names = ["seed", "steps", "sampler", "state-fraction", "guidance-scale", "learning-rate"]
        XCTAssertEqual(Suggestions.ranked("setps", among: names), ["steps"])
        XCTAssertEqual(Suggestions.ranked("sed", among: names), ["seed"])
        XCTAssertEqual(Suggestions.ranked("lerning-rate", among: names), ["learning-rate"])
    }

    func testRankingOrdersByDistanceThenPrefix() {
        // "steps" is one edit away, "stepsize" a prefix match three edits
        // away, "step" one edit away and alphabetically first.
        let ranked = Suggestions.ranked("steps", among: ["stepsize", "step", "seeds", "stops"])
        XCTAssertEqual(ranked, ["step", "stops", "seeds", "stepsize"])
    }

    func testPrefixFindsLongName() {
        XCTAssertEqual(Suggestions.ranked("guidance", among: ["guidance-scale", "seed"]), ["guidance-scale"])
    }

    func testSnakeAndCaseAreIgnored() {
        XCTAssertEqual(Suggestions.ranked("Learning_Rat", among: ["learning-rate", "seed"]), ["learning-rate"])
    }

    func testFarNamesAreNotSuggested() {
        XCTAssertEqual(Suggestions.ranked("json", among: ["seed", "steps"]), [])
        XCTAssertEqual(Suggestions.ranked("x", among: ["y", "seed"]), [], "a one-letter input matches nothing by distance")
    }
}
