import XCTest
@testable import CommandLineKit

final class ProgressTests: XCTestCase {
    func testRate() {
        XCTAssertEqual(ProgressFormat.rate(completed: 120, elapsed: 40), 3)
        XCTAssertNil(ProgressFormat.rate(completed: 0, elapsed: 40))
        XCTAssertNil(ProgressFormat.rate(completed: 5, elapsed: 0))
    }

    func testRateAfterResume() throws {
        // Resumed at 5500: 60 more steps in 30 s is 2 per second, and the
        // 4440 left take 2220 s.
        XCTAssertEqual(ProgressFormat.rate(completed: 5560, elapsed: 30, startCount: 5500), 2)
        XCTAssertNil(ProgressFormat.rate(completed: 5500, elapsed: 30, startCount: 5500))
        let remaining = try XCTUnwrap(
            ProgressFormat.remainingSeconds(completed: 5560, total: 10000, elapsed: 30, startCount: 5500))
        XCTAssertEqual(remaining, 2220, accuracy: 1e-9)
        let state = ProgressState(label: "train", completed: 5560, total: 10000, elapsed: 30, unit: "steps",
                                  startCount: 5500)
        XCTAssertEqual(ProgressFormat.plainLine(state),
                       "train: 5560/10000 steps (55.6%), 2.00 steps/s, elapsed 0:30, ETA 37:00")
    }

    func testRateText() {
        XCTAssertEqual(ProgressFormat.formatRate(3.4137, unit: "steps"), "3.41 steps/s")
        XCTAssertEqual(ProgressFormat.formatRate(42.06, unit: "images"), "42.1 images/s")
        XCTAssertEqual(ProgressFormat.formatRate(1250.4, unit: "images"), "1250 images/s")
        XCTAssertEqual(ProgressFormat.formatRate(0.0456, unit: "steps"), "0.046 steps/s")
        XCTAssertEqual(ProgressFormat.formatRate(0.00123, unit: "steps"), "0.0012 steps/s")
    }

    func testRemainingSeconds() throws {
        // 120 of 1000 in 40 s is 3 per second, so 880 left take 293.3 s.
        let remaining = try XCTUnwrap(ProgressFormat.remainingSeconds(completed: 120, total: 1000, elapsed: 40))
        XCTAssertEqual(remaining, 880.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(ProgressFormat.remainingSeconds(completed: 1000, total: 1000, elapsed: 40), 0)
        XCTAssertNil(ProgressFormat.remainingSeconds(completed: 0, total: 1000, elapsed: 40))
        XCTAssertNil(ProgressFormat.remainingSeconds(completed: 10, total: nil, elapsed: 40))
    }

    func testDurationText() {
        XCTAssertEqual(ProgressFormat.formatDuration(0), "0:00")
        XCTAssertEqual(ProgressFormat.formatDuration(59.4), "0:59")
        XCTAssertEqual(ProgressFormat.formatDuration(59.6), "1:00")
        XCTAssertEqual(ProgressFormat.formatDuration(293.3), "4:53")
        XCTAssertEqual(ProgressFormat.formatDuration(3600), "1:00:00")
        XCTAssertEqual(ProgressFormat.formatDuration(100_000), "27:46:40")
        XCTAssertEqual(ProgressFormat.formatDuration(nil), "--:--")
        XCTAssertEqual(ProgressFormat.formatDuration(.infinity), "--:--")
    }

    func testPlainLine() {
        let state = ProgressState(label: "train-field", completed: 120, total: 1000, elapsed: 40, unit: "steps",
                                  fields: [ProgressField("loss", "0.0123")])
        XCTAssertEqual(ProgressFormat.plainLine(state),
                       "train-field: 120/1000 steps (12.0%), 3.00 steps/s, elapsed 0:40, ETA 4:53, loss=0.0123")
    }

    func testPlainLineWithoutTotal() {
        let state = ProgressState(label: "encode", completed: 64, total: nil, elapsed: 8, unit: "images")
        XCTAssertEqual(ProgressFormat.plainLine(state), "encode: 64 images, 8.00 images/s, elapsed 0:08")
    }

    func testPlainLineBeforeFirstItem() {
        let state = ProgressState(label: "sample", completed: 0, total: 50, elapsed: 0, unit: "steps")
        XCTAssertEqual(ProgressFormat.plainLine(state), "sample: 0/50 steps (0.0%), elapsed 0:00")
    }

    func testTerminalLineWithBar() {
        let state = ProgressState(label: "train", completed: 25, total: 100, elapsed: 10, unit: "steps",
                                  fields: [ProgressField("loss", "0.5")])
        let line = ProgressFormat.terminalLine(state, width: 100)
        XCTAssertEqual(line,
                       "train [######---------------------]  25/100   25.0%  2.50 steps/s  elapsed 0:10  ETA 0:30  loss=0.5")
        XCTAssertLessThan(line.count, 100)
    }

    func testTerminalLineDropsBarThenCuts() {
        let state = ProgressState(label: "train", completed: 25, total: 100, elapsed: 10, unit: "steps")
        let narrow = ProgressFormat.terminalLine(state, width: 60)
        XCTAssertEqual(narrow, "train  25/100   25.0%  2.50 steps/s  elapsed 0:10  ETA 0:30")
        XCTAssertEqual(ProgressFormat.terminalLine(state, width: 22), "train  25/100   25.0%")
    }

    func testTerminalLineKeepsWidthAsDigitsGrow() {
        let early = ProgressState(label: "train", completed: 9, total: 1000, elapsed: 3, unit: "steps")
        let later = ProgressState(label: "train", completed: 999, total: 1000, elapsed: 333, unit: "steps")
        XCTAssertEqual(ProgressFormat.terminalLine(early, width: 80).count,
                       ProgressFormat.terminalLine(later, width: 80).count)
    }

    func testBarFill() {
        XCTAssertEqual(ProgressFormat.bar(completed: 0, total: 10, width: 10), "----------")
        XCTAssertEqual(ProgressFormat.bar(completed: 5, total: 10, width: 10), "#####-----")
        XCTAssertEqual(ProgressFormat.bar(completed: 15, total: 10, width: 4), "####")
    }

    func testThrottleIsDue() {
        XCTAssertFalse(ProgressThrottle.isDue(now: 9.9, lastEmission: 0, interval: 10, isFinal: false))
        XCTAssertTrue(ProgressThrottle.isDue(now: 10, lastEmission: 0, interval: 10, isFinal: false))
        XCTAssertTrue(ProgressThrottle.isDue(now: 0.5, lastEmission: 0, interval: 10, isFinal: true))
    }

    func testThrottleOverUpdateSequence() {
        // Updates every 3 s for 31 s: lines are due at 12, 24 and the final 30.
        var lastEmission = 0.0
        var emitted: [Double] = []
        let times = stride(from: 3.0, through: 30.0, by: 3.0).map { $0 }
        for (index, now) in times.enumerated() {
            let isFinal = index == times.count - 1
            if ProgressThrottle.isDue(now: now, lastEmission: lastEmission, interval: 10, isFinal: isFinal) {
                emitted.append(now)
                lastEmission = now
            }
        }
        XCTAssertEqual(emitted, [12, 24, 30])
    }

    func testReporterPlainLinesAreThrottled() {
        final class Clock { var now = 100.0 }
        let clock = Clock()
        var lines: [String] = []
        let reporter = ProgressReporter(label: "train", total: 10, unit: "steps", style: .plain,
                                        plainInterval: 10, clock: { clock.now },
                                        writePlainLine: { lines.append($0) })
        for step in 1...10 {
            clock.now += 3
            reporter.update(completed: step)
        }
        reporter.finish()
        XCTAssertEqual(lines, [
            "train: 4/10 steps (40.0%), 0.333 steps/s, elapsed 0:12, ETA 0:18",
            "train: 8/10 steps (80.0%), 0.333 steps/s, elapsed 0:24, ETA 0:06",
            "train: 10/10 steps (100.0%), 0.333 steps/s, elapsed 0:30, ETA 0:00",
        ])
    }

    func testReporterFinishWritesUnreportedEnd() {
        final class Clock { var now = 0.0 }
        let clock = Clock()
        var lines: [String] = []
        let reporter = ProgressReporter(label: "scan", total: nil, unit: "images", style: .plain,
                                        plainInterval: 10, clock: { clock.now },
                                        writePlainLine: { lines.append($0) })
        clock.now = 2
        reporter.update(completed: 7)
        reporter.finish()
        reporter.finish()
        XCTAssertEqual(lines, ["scan: 7 images, 3.50 images/s, elapsed 0:02"])
    }
}
