import XCTest
@testable import CommandLineKit

final class HelpTests: XCTestCase {
    let formatter = HelpFormatter(programName: "hyperfield")

    /// Help text of one option joined into one line, so wrapping does not
    /// split the phrases the tests look for.
    func entry(for name: String, in help: String) -> String? {
        var lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("  \(name)") }) else { return nil }
        lines = Array(lines[start...])
        var joined = lines[0]
        for line in lines.dropFirst() {
            guard line.hasPrefix("   ") else { break }
            joined += " " + line.trimmingCharacters(in: .whitespaces)
        }
        return joined
    }

    func testHelpListsEveryOptionWithDetails() throws {
        let command = SampleFixture()
        let help = formatter.help(for: command)
        for declaration in command.declarations {
            let displayName = declaration.displayName
            let line = try XCTUnwrap(entry(for: displayName, in: help), "no help entry for \(displayName)")
            XCTAssertTrue(line.contains(declaration.help), "help text missing in: \(line)")
            if let unit = declaration.unit {
                XCTAssertTrue(line.contains("unit: \(unit)"), "unit missing in: \(line)")
            }
            if let defaultText = declaration.defaultDescription {
                XCTAssertTrue(line.contains("default: \(defaultText)"), "default missing in: \(line)")
            }
        }
    }

    func testHelpShowsTypesUnitsDefaultsAndRanges() throws {
        let help = formatter.help(for: SampleFixture())
        XCTAssertEqual(entry(for: "--steps", in: help),
                       "  --steps <int>                 DDIM sampling steps [unit: steps; default: 50; range: between 1 and 1000]")
        XCTAssertEqual(entry(for: "--state-fraction", in: help),
                       "  --state-fraction <number>     convergence state of the adapter [unit: fraction of S; default: 1; range: between 0 and 1]")
        XCTAssertEqual(entry(for: "--format", in: help),
                       "  --format <native|peft|kohya|merged> adapter file format [default: native]")
        XCTAssertEqual(entry(for: "--states", in: help),
                       "  --states <int,...>            convergence states to sample [unit: steps; default: 0,250,500; range: at least 0]")
        XCTAssertEqual(entry(for: "--scales", in: help),
                       "  --scales <number,...>         guidance scales to compare [default: none]")
        XCTAssertEqual(entry(for: "--resume", in: help), "  --resume <path>               checkpoint to resume from")
        XCTAssertEqual(entry(for: "--json", in: help),
                       "  --json                        print the results as JSON on standard output instead of text")
        XCTAssertEqual(entry(for: "<adapter>", in: help), "  <adapter>                     adapter file [required]")
        XCTAssertNotNil(entry(for: "-h, --help", in: help))
    }

    func testHelpHasSynopsisAndDescription() {
        let help = formatter.help(for: SampleFixture())
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[0], "usage: hyperfield sample [options] <adapter>")
        XCTAssertEqual(lines[2], "Generate images of a subject from an adapter.")
        XCTAssertTrue(help.contains("Loads the adapter into the denoiser's slots and runs the DDIM sampler with"))
        // Example lines keep their indentation.
        XCTAssertTrue(lines.contains("  hyperfield sample subject.safetensors --steps 50"))
    }

    func testUsageLineShowsRequiredOptionsAndLists() {
        XCTAssertEqual(formatter.usageLine(for: MetricsFixture()),
                       "usage: hyperfield metrics --references <path> [options] <images>...")
    }

    func testHelpFitsEightyColumns() {
        for help in [formatter.help(for: SampleFixture()), formatter.help(for: MetricsFixture()),
                     formatter.programHelp(summary: "personalize a model", commands: [SampleFixture(), MetricsFixture()])] {
            for line in help.split(separator: "\n") {
                XCTAssertLessThanOrEqual(line.count, 80, "line too long: \(line)")
            }
        }
    }

    func testLongHelpWrapsUnderItsColumn() {
        let rows = [("--x", String(repeating: "word ", count: 30))]
        let lines = formatter.table(rows, column: formatter.helpColumn(for: rows))
        XCTAssertGreaterThan(lines.count, 1)
        XCTAssertTrue(lines[0].hasPrefix("  --x  word"))
        for line in lines.dropFirst() {
            XCTAssertTrue(line.hasPrefix("       word"), "continuation not aligned: \(line)")
        }
    }

    func testProgramHelpListsCommands() {
        let help = formatter.programHelp(summary: "personalize a model", commands: [SampleFixture(), MetricsFixture()])
        XCTAssertTrue(help.hasPrefix("usage: hyperfield <command> [options]\n\nPersonalize a model.\n"))
        XCTAssertTrue(help.contains("\n  sample   generate images of a subject from an adapter\n"))
        XCTAssertTrue(help.contains("\n  metrics  score generated images against reference photos\n"))
        XCTAssertTrue(help.contains("\n  help     show the help of the program or of one command\n"))
    }

    func testWrapKeepsLongWordWhole() {
        XCTAssertEqual(wrap("a bb cccccccccc d", width: 5), ["a bb", "cccccccccc", "d"])
        XCTAssertEqual(wrap("", width: 5), [""])
    }
}
