import Foundation
import ImageIO
import XCTest

/// Folder of the checked-in fixtures (see Fixtures/README.md).
let fixturesFolder = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The repository root, three levels above this file.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Decode options that accept the tiny images of these tests.
let tinyImageOptions = DecodeOptions(minimumSide: 1)

/// Creates a fresh temporary folder and removes it when the test ends.
func makeTemporaryFolder(for testCase: XCTestCase) throws -> URL {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("hyperfield-imageio-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    testCase.addTeardownBlock {
        try? FileManager.default.removeItem(at: folder)
    }
    return folder
}

/// Collects log lines from code under test.
final class LogRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []

    var lines: [String] {
        lock.lock()
        defer { lock.unlock() }
        return storage
    }

    var log: ImageIOLog {
        { [self] line in
            lock.lock()
            storage.append(line)
            lock.unlock()
        }
    }
}

/// Runs `body` and returns the `ImageIOError` it throws, failing the test
/// when it throws nothing or another error type.
func captureImageIOError(
    _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line
) -> ImageIOError? {
    do {
        try body()
        XCTFail("expected an ImageIOError, but nothing was thrown", file: file, line: line)
    } catch let error as ImageIOError {
        return error
    } catch {
        XCTFail("expected an ImageIOError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Asserts that every channel of `actual` is within `tolerance` of `expected`.
func assertColor(
    _ actual: RGBColor, _ expected: RGBColor, tolerance: Int, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    let differences = [
        abs(Int(actual.red) - Int(expected.red)), abs(Int(actual.green) - Int(expected.green)),
        abs(Int(actual.blue) - Int(expected.blue)),
    ]
    XCTAssertLessThanOrEqual(
        differences.max()!, tolerance, "\(message): got \(actual), expected \(expected) within \(tolerance)",
        file: file, line: line)
}

/// Returns an image of flat-colour blocks, `columns` x `rows` of them, each
/// `blockSize` pixels square, coloured from `colors` in reading order.
func makeBlockImage(colors: [RGBColor], columns: Int, rows: Int, blockSize: Int) -> RGBImage {
    var image = RGBImage(width: columns * blockSize, height: rows * blockSize, color: .black)
    for y in 0..<image.height {
        for x in 0..<image.width {
            image[x, y] = colors[(y / blockSize) * columns + x / blockSize]
        }
    }
    return image
}
