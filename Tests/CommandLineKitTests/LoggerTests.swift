import XCTest
@testable import CommandLineKit

final class LoggerTests: XCTestCase {
    func testLineWithoutTimestamp() {
        XCTAssertEqual(Logger.format("loaded 12 images", level: .info, timestamp: nil, timeZone: .gmt), "loaded 12 images")
        XCTAssertEqual(Logger.format("skipped 2 files", level: .warning, timestamp: nil, timeZone: .gmt),
                       "warning: skipped 2 files")
    }

    func testLineWithTimestamp() {
        // 1_700_000_000 s after the Unix epoch is 2023-11-14 22:13:20 UTC.
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        XCTAssertEqual(Logger.format("done", level: .info, timestamp: date, timeZone: .gmt), "2023-11-14 22:13:20 done")
        let plusTwo = TimeZone(secondsFromGMT: 7200)!
        XCTAssertEqual(Logger.format("slow", level: .warning, timestamp: date, timeZone: plusTwo),
                       "2023-11-15 00:13:20 warning: slow")
    }
}
