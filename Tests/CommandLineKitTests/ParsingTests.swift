import XCTest
@testable import CommandLineKit

final class ParsingTests: XCTestCase {
    let command = SampleFixture()

    /// Parses `arguments` after the fixture's required adapter path.
    func parse(_ arguments: [String]) throws -> ParsedArguments {
        try command.parse(["adapter.safetensors"] + arguments)
    }

    /// Message of the usage error that `arguments` raise, or a failure.
    func usageError(_ arguments: [String], of command: any Command = SampleFixture(),
                    file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try command.parse(arguments)
            XCTFail("\(arguments) parsed without error", file: file, line: line)
            return ""
        } catch {
            return error.message
        }
    }

    func testDefaultsWhenNothingGiven() throws {
        let parsed = try parse([])
        XCTAssertEqual(parsed[command.adapter], "adapter.safetensors")
        XCTAssertEqual(parsed[command.steps], 50)
        XCTAssertEqual(parsed[command.learningRate], 0.0001)
        XCTAssertEqual(parsed[command.guidanceScale], 7.5)
        XCTAssertEqual(parsed[command.prompt], "a photo of [V]")
        XCTAssertEqual(parsed[command.output], "out/samples")
        XCTAssertEqual(parsed[command.format], .native)
        XCTAssertEqual(parsed[command.sampler], "ddim")
        XCTAssertEqual(parsed[command.states], [0, 250, 500])
        XCTAssertEqual(parsed[command.scales], [])
        XCTAssertEqual(parsed[command.slots], ["attn"])
        XCTAssertNil(parsed[command.resume])
        XCTAssertFalse(parsed[command.json])
        XCTAssertFalse(parsed.isGiven(command.steps))
    }

    func testIntegerOption() throws {
        XCTAssertEqual(try parse(["--steps", "20"])[command.steps], 20)
        XCTAssertEqual(try parse(["--steps", "+20"])[command.steps], 20)
        XCTAssertEqual(try parse(["--steps", "1e2"])[command.steps], 100)
        XCTAssertEqual(try parse(["--steps", "40.0"])[command.steps], 40)
        XCTAssertTrue(try parse(["--steps", "20"]).isGiven(command.steps))
    }

    func testIntegerRejectsFraction() {
        XCTAssertEqual(usageError(["a", "--steps", "2.5"]), "--steps expects a whole number of steps, got '2.5'")
    }

    func testDoubleOption() throws {
        XCTAssertEqual(try parse(["--learning-rate", "3e-4"])[command.learningRate], 3e-4)
        XCTAssertEqual(try parse(["--timeout", "1.5"])[command.timeout], 1.5)
    }

    func testDoubleRejectsNaNAndInfinity() {
        XCTAssertEqual(usageError(["a", "--timeout", "nan"]), "--timeout expects a number (seconds), got 'nan'")
        XCTAssertEqual(usageError(["a", "--timeout", "inf"]), "--timeout expects a number (seconds), got 'inf'")
    }

    func testFloatOption() throws {
        XCTAssertEqual(try parse(["--guidance-scale", "3.25"])[command.guidanceScale], Float(3.25))
        XCTAssertEqual(usageError(["a", "--guidance-scale", "1e39"]),
                       "--guidance-scale expects a number (scale factor), got '1e39'")
    }

    func testStringOption() throws {
        XCTAssertEqual(try parse(["--prompt", "a [V] dog"])[command.prompt], "a [V] dog")
        XCTAssertEqual(try parse(["--prompt="])[command.prompt], "")
    }

    func testFlagOption() throws {
        XCTAssertTrue(try parse(["--json"])[command.json])
        XCTAssertTrue(try parse(["--json=yes"])[command.json])
        XCTAssertFalse(try parse(["--json=false"])[command.json])
        XCTAssertEqual(usageError(["a", "--json=maybe"]), "--json expects true or false, got 'maybe'")
    }

    func testFlagTakesNoSeparateValue() {
        // "true" after a flag is a positional word, and the fixture has only one.
        XCTAssertEqual(usageError(["a", "--json", "true"]),
                       "unexpected argument 'true'; this command takes only <adapter>")
    }

    func testPathOption() throws {
        XCTAssertEqual(try parse(["--output", "runs/a b"])[command.output], "runs/a b")
        let home = NSString(string: "~").expandingTildeInPath
        XCTAssertEqual(try parse(["--output=~/runs"])[command.output], home + "/runs")
        XCTAssertEqual(usageError(["a", "--output="]),
                       "--output expects a file or folder path, got ''; the path is empty")
    }

    func testEnumChoiceOption() throws {
        XCTAssertEqual(try parse(["--format", "kohya"])[command.format], .kohya)
        XCTAssertEqual(try parse(["--format", "PEFT"])[command.format], .peft)
    }

    func testStringChoiceOption() throws {
        XCTAssertEqual(try parse(["--sampler", "ddpm"])[command.sampler], "ddpm")
        XCTAssertEqual(usageError(["a", "--sampler", "euler"]),
                       "--sampler expects one of ddim, ddpm, got 'euler'")
    }

    func testChoiceSuggestsClosest() {
        XCTAssertEqual(usageError(["a", "--format", "kohia"]),
                       "--format expects one of native, peft, kohya, merged, got 'kohia'; did you mean 'kohya'?")
    }

    func testIntegerListOption() throws {
        XCTAssertEqual(try parse(["--states", "0,100, 200"])[command.states], [0, 100, 200])
        XCTAssertEqual(try parse(["--states", ""])[command.states], [])
        XCTAssertEqual(usageError(["a", "--states", "0,x"]),
                       "--states expects a comma-separated list of whole numbers (steps), got '0,x'; 'x' is not a whole number")
        XCTAssertEqual(usageError(["a", "--states", "0,,5"]),
                       "--states expects a comma-separated list of whole numbers (steps), got '0,,5'; it has an empty element between commas")
    }

    func testDoubleAndStringListOptions() throws {
        XCTAssertEqual(try parse(["--scales", "1,2.5,7.5"])[command.scales], [1, 2.5, 7.5])
        XCTAssertEqual(try parse(["--slots", "attn1.to_q,attn2"])[command.slots], ["attn1.to_q", "attn2"])
    }

    func testOptionalWithoutDefault() throws {
        XCTAssertEqual(try parse(["--resume", "ckpt/latest"])[command.resume], "ckpt/latest")
        XCTAssertNil(try parse([])[command.resume])
    }

    func testSnakeCaseAlias() throws {
        let parsed = try parse(["--learning_rate", "0.01", "--state_fraction=0.5"])
        XCTAssertEqual(parsed[command.learningRate], 0.01)
        XCTAssertEqual(parsed[command.stateFraction], 0.5)
    }

    func testEqualsForm() throws {
        let parsed = try parse(["--steps=12", "--prompt=a=b", "--format=merged"])
        XCTAssertEqual(parsed[command.steps], 12)
        XCTAssertEqual(parsed[command.prompt], "a=b")
        XCTAssertEqual(parsed[command.format], .merged)
    }

    func testNegativeNumberIsAValue() throws {
        XCTAssertEqual(usageError(["a", "--learning-rate", "-0.5"]),
                       "--learning-rate must be at least 0, got -0.5")
        XCTAssertEqual(try parse(["--timeout", "-1"])[command.timeout], -1)
    }

    func testPositionalAnywhere() throws {
        let parsed = try command.parse(["--steps", "5", "subject.safetensors", "--json"])
        XCTAssertEqual(parsed[command.adapter], "subject.safetensors")
        XCTAssertEqual(parsed[command.steps], 5)
        XCTAssertTrue(parsed[command.json])
    }

    func testDoubleDashEndsOptions() throws {
        let parsed = try command.parse(["--steps", "5", "--", "--odd-name.safetensors"])
        XCTAssertEqual(parsed[command.adapter], "--odd-name.safetensors")
        XCTAssertEqual(parsed[command.steps], 5)
    }

    func testLastRepeatWins() throws {
        XCTAssertEqual(try parse(["--steps", "5", "--steps", "7"])[command.steps], 7)
    }

    func testUnknownOptionSuggestsName() {
        let message = usageError(["a", "--stepz", "5"])
        XCTAssertEqual(message, "unknown option '--stepz'; did you mean '--steps'?")
    }

    func testUnknownOptionWithValueShowsName() {
        XCTAssertEqual(usageError(["a", "--lerning_rate=0.1"]),
                       "unknown option '--lerning_rate'; did you mean '--learning-rate'?")
    }

    func testUnknownOptionWithoutSuggestion() {
        XCTAssertEqual(usageError(["a", "--zzzzzz"]), "unknown option '--zzzzzz'")
    }

    func testSingleDashLongOption() {
        XCTAssertEqual(usageError(["a", "-steps", "5"]),
                       "unknown option '-steps'; did you mean '--steps'? Long options take two dashes")
    }

    func testPositionalGivenByName() {
        XCTAssertEqual(usageError(["--adapter", "a"]),
                       "unknown option '--adapter'; <adapter> is a positional argument, so give its value without '--adapter'")
    }

    func testBadValueNamesOptionAndValue() {
        XCTAssertEqual(usageError(["a", "--steps", "ten"]), "--steps expects a whole number of steps, got 'ten'")
        XCTAssertEqual(usageError(["a", "--state-fraction", "half"]),
                       "--state-fraction expects a number (fraction of S), got 'half'")
    }

    func testRangeViolation() {
        XCTAssertEqual(usageError(["a", "--steps", "0"]), "--steps must be between 1 and 1000, got 0")
        XCTAssertEqual(usageError(["a", "--steps=1001"]), "--steps must be between 1 and 1000, got 1001")
        XCTAssertEqual(usageError(["a", "--state-fraction", "1.5"]),
                       "--state-fraction must be between 0 and 1, got 1.5")
        XCTAssertEqual(usageError(["a", "--states", "0,-5"]),
                       "every value of --states must be at least 0, got -5 in '0,-5'")
    }

    func testRangeBoundsAreInclusive() throws {
        XCTAssertEqual(try parse(["--steps", "1"])[command.steps], 1)
        XCTAssertEqual(try parse(["--steps", "1000"])[command.steps], 1000)
        XCTAssertEqual(try parse(["--state-fraction", "0"])[command.stateFraction], 0)
    }

    func testMissingValue() {
        XCTAssertEqual(usageError(["a", "--steps"]),
                       "missing value for --steps, which expects a whole number of steps")
        XCTAssertEqual(usageError(["a", "--output", "--json"]),
                       "missing value for --output, which expects a file or folder path; '--json' after it is read as the next option (write --output=VALUE for a value that starts with '-')")
    }

    func testMissingRequiredPositional() {
        XCTAssertEqual(usageError(["--steps", "5"]),
                       "missing required argument <adapter>, which expects a file or folder path")
    }

    func testMissingRequiredOption() {
        XCTAssertEqual(usageError(["x.png"], of: MetricsFixture()),
                       "missing required option --references, which expects a file or folder path")
    }

    func testPositionalListTakesRest() throws {
        let command = MetricsFixture()
        let parsed = try command.parse(["a.png", "--references", "refs", "b.png", "c.png"])
        XCTAssertEqual(parsed[command.images], ["a.png", "b.png", "c.png"])
        XCTAssertEqual(parsed[command.references], "refs")
    }

    func testPositionalListKeepsCommas() throws {
        let command = MetricsFixture()
        let parsed = try command.parse(["--references", "refs", "a,1.png", "b.png"])
        XCTAssertEqual(parsed[command.images], ["a,1.png", "b.png"])
    }

    func testMissingPositionalList() {
        XCTAssertEqual(usageError(["--references", "refs"], of: MetricsFixture()),
                       "missing required argument <images>, which expects one or more names")
    }

    func testTooManyPositionals() {
        XCTAssertEqual(usageError(["a", "b"]), "unexpected argument 'b'; this command takes only <adapter>")
    }

    func testFixturesDeclareSoundly() {
        XCTAssertEqual(SampleFixture().declarationProblems(), [])
        XCTAssertEqual(MetricsFixture().declarationProblems(), [])
    }

    func testDeclarationProblemsFound() {
        struct BadCommand: Command {
            let name = "Bad_Command"
            let summary = "bad"
            let description = ""
            var options: [any CommandOption] {
                [Option.integer("seed", default: 0, help: "seed"),
                 Option.integer("seed", default: 1, help: "again"),
                 Option.flag("help", help: "clashes with --help"),
                 Option.string("learningRate", default: "x", help: "camel case"),
                 Option.list("files", of: String.self, default: [], help: "list").positional(),
                 Option.path("last", help: "after a list").positional()]
            }
            func run(_ arguments: ParsedArguments) throws {}
        }
        let problems = BadCommand().declarationProblems()
        XCTAssertTrue(problems.contains { $0.contains("command name 'Bad_Command' is not kebab case") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("'seed' is declared twice") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("'help' is declared twice or clashes with --help") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("'learningRate' is not kebab case") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("<files> must be the last positional") }, "\(problems)")
        XCTAssertTrue(problems.contains { $0.contains("required <last> follows an optional") }, "\(problems)")
    }
}
