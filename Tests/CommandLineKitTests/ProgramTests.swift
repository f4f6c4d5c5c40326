import Foundation
import XCTest
@testable import CommandLineKit

final class ProgramTests: XCTestCase {
    let program = CommandLineProgram(name: "hyperfield", summary: "personalize a model",
                                     commands: [SampleFixture(), MetricsFixture()])

    func testSuccessExitsZero() {
        let recorder = ConsoleRecorder()
        XCTAssertEqual(program.execute(["sample", "a.safetensors"], console: recorder.console), .success)
        XCTAssertEqual(recorder.error, "")
    }

    func testUsageErrorExitsTwoWithUsage() {
        let recorder = ConsoleRecorder()
        XCTAssertEqual(program.execute(["sample", "a", "--stepz", "3"], console: recorder.console), .usage)
        XCTAssertEqual(recorder.error, """
            hyperfield sample: error: unknown option '--stepz'; did you mean '--steps'?
            usage: hyperfield sample [options] <adapter>
            Run 'hyperfield sample --help' for the full list of options.

            """)
        XCTAssertEqual(recorder.output, "")
    }

    func testUsageErrorFromRunExitsTwo() {
        let recorder = ConsoleRecorder()
        let code = program.execute(["sample", "a", "--steps", "999", "--timeout", "5"], console: recorder.console)
        XCTAssertEqual(code, .usage)
        XCTAssertTrue(recorder.error.hasPrefix("hyperfield sample: error: --steps 999 and --timeout cannot be combined\n"))
    }

    func testRuntimeErrorExitsOne() {
        let recorder = ConsoleRecorder()
        XCTAssertEqual(program.execute(["sample", "a", "--prompt", "fail"], console: recorder.console), .failure)
        XCTAssertEqual(recorder.error, "hyperfield sample: error: adapter file 'x' not found; check the path\n")
    }

    func testCommandHelpGoesToStandardOutput() {
        let recorder = ConsoleRecorder()
        XCTAssertEqual(program.execute(["sample", "--steps", "oops", "--help"], console: recorder.console), .success)
        XCTAssertTrue(recorder.output.hasPrefix("usage: hyperfield sample [options] <adapter>\n"))
        XCTAssertEqual(recorder.error, "")
    }

    func testHelpAfterDoubleDashIsAnArgument() {
        let recorder = ConsoleRecorder()
        XCTAssertEqual(program.execute(["sample", "--", "--help"], console: recorder.console), .success)
        XCTAssertEqual(recorder.output, "")
    }

    func testProgramHelpForms() {
        for arguments in [["--help"], ["-h"], ["help"], ["help", "help"]] {
            let recorder = ConsoleRecorder()
            XCTAssertEqual(program.execute(arguments, console: recorder.console), .success)
            XCTAssertTrue(recorder.output.contains("\n  metrics  score generated images"), "\(arguments)")
        }
    }

    func testHelpOfOneCommand() {
        let recorder = ConsoleRecorder()
        XCTAssertEqual(program.execute(["help", "metrics"], console: recorder.console), .success)
        XCTAssertTrue(recorder.output.hasPrefix("usage: hyperfield metrics --references <path>"))
    }

    func testUnknownCommandSuggests() {
        let recorder = ConsoleRecorder()
        XCTAssertEqual(program.execute(["sampel"], console: recorder.console), .usage)
        XCTAssertEqual(recorder.error, """
            hyperfield: error: unknown command 'sampel'; did you mean 'sample'?
            usage: hyperfield <command> [options]
            Run 'hyperfield --help' to list the commands.

            """)
    }

    func testMissingCommandExitsTwo() {
        let recorder = ConsoleRecorder()
        XCTAssertEqual(program.execute([], console: recorder.console), .usage)
        XCTAssertTrue(recorder.error.hasPrefix("hyperfield: error: missing command\n"))
        XCTAssertTrue(recorder.error.contains("  sample   generate images"))
    }

    func testExitCodeValues() {
        XCTAssertEqual(ExitCode.success.rawValue, 0)
        XCTAssertEqual(ExitCode.failure.rawValue, 1)
        XCTAssertEqual(ExitCode.usage.rawValue, 2)
    }
}

/// Collects what a program writes, for checks on messages and help.
final class ConsoleRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var outputText = ""
    private var errorText = ""

    var output: String { lock.withLock { outputText } }
    var error: String { lock.withLock { errorText } }

    var console: Console {
        Console(
            writeOutput: { text in self.lock.withLock { self.outputText += text } },
            writeError: { text in self.lock.withLock { self.errorText += text } })
    }
}
