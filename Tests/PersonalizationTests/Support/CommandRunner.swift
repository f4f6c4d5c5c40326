import Foundation
import XCTest

/// Output of one run of the `hyperfield` program.
struct CommandResult {
    let exitCode: Int32
    let standardOutput: String
    let standardError: String
}

/// Finds the `hyperfield` executable that `swift test` builds next to the
/// test bundle, or skips the test when there is none.
func hyperfieldExecutable() throws -> URL {
    let bundleFolder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let candidates = [
        bundleFolder.appendingPathComponent("hyperfield"),
        repositoryRoot.appendingPathComponent(".build/release/hyperfield"),
        repositoryRoot.appendingPathComponent(".build/debug/hyperfield"),
    ]
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw XCTSkip("no hyperfield executable next to the tests; build it with 'swift build -c release'")
    }
    return found
}

/// Runs `hyperfield` with `arguments` and collects its output.
func runHyperfield(_ arguments: [String]) throws -> CommandResult {
    let process = Process()
    process.executableURL = try hyperfieldExecutable()
    process.arguments = arguments
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    // Read before waiting, so that a full pipe cannot block the program.
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(
        exitCode: process.terminationStatus,
        standardOutput: String(decoding: outputData, as: UTF8.self),
        standardError: String(decoding: errorData, as: UTF8.self))
}
