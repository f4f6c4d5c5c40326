import XCTest
@testable import CommandLineKit

final class JSONOutputTests: XCTestCase {
    struct Scores: Encodable {
        let dino: Double
        let clipI: Double
        let subjects: [String]
    }

    func testPrettyWithSortedKeys() throws {
        let text = try JSONOutput.encode(Scores(dino: 0.5, clipI: 0.25, subjects: ["cat/01"]))
        XCTAssertEqual(text, """
            {
              "clipI" : 0.25,
              "dino" : 0.5,
              "subjects" : [
                "cat/01"
              ]
            }
            """)
    }

    func testNaNRejectedNamingField() {
        XCTAssertThrowsError(try JSONOutput.encode(Scores(dino: .nan, clipI: 0, subjects: []))) { error in
            let message = (error as? RuntimeError)?.message ?? ""
            XCTAssertTrue(message.contains("field 'dino'"), message)
            XCTAssertTrue(message.contains("NaN"), message)
        }
    }

    func testNestedFieldPath() {
        struct Run: Encodable { let scores: [Scores] }
        let run = Run(scores: [Scores(dino: 0, clipI: 0, subjects: []), Scores(dino: 0, clipI: .infinity, subjects: [])])
        XCTAssertThrowsError(try JSONOutput.encode(run)) { error in
            let message = (error as? RuntimeError)?.message ?? ""
            XCTAssertTrue(message.contains("field 'scores.1.clipI'"), message)
        }
    }
}
