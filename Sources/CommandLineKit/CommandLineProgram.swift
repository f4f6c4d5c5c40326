import Foundation

/// Destinations of the program's text. Results and help go to standard
/// output and errors to standard error. Tests pass closures that collect it.
public struct Console: Sendable {
    public var writeOutput: @Sendable (String) -> Void
    public var writeError: @Sendable (String) -> Void

    public init(writeOutput: @escaping @Sendable (String) -> Void, writeError: @escaping @Sendable (String) -> Void) {
        self.writeOutput = writeOutput
        self.writeError = writeError
    }

    /// The process's standard output and standard error. Error text ends any
    /// progress line first, so the last progress state stays visible above it.
    public static let standard = Console(
        writeOutput: { text in print(text, terminator: "") },
        writeError: { text in
            StandardError.shared.endStatusLine()
            StandardError.shared.write(text)
        })
}

/// A program with subcommands (`hyperfield <command> [options]`). It finds
/// the command, prints help, parses options, runs the command and maps errors
/// to exit codes (0 success, 1 runtime error, 2 usage error).
public struct CommandLineProgram {
    public let name: String
    public let summary: String
    public let commands: [any Command]
    let formatter: HelpFormatter

    /// Registers `commands`. Stops the program if a declaration is unsound
    /// (see `Command.declarationProblems`) or two commands share a name,
    /// because both are bugs that no command line can work around.
    public init(name: String, summary: String, commands: [any Command]) {
        var problems = commands.flatMap { $0.declarationProblems() }
        var seen: Set<String> = ["help"]
        for command in commands where !seen.insert(command.name).inserted {
            problems.append("command name '\(command.name)' is registered twice or clashes with 'help'")
        }
        precondition(problems.isEmpty, "invalid command declarations:\n" + problems.joined(separator: "\n"))

        self.name = name
        self.summary = summary
        self.commands = commands
        self.formatter = HelpFormatter(programName: name)
    }

    /// Runs the command named by the process arguments and exits with its code.
    public func run() -> Never {
        let code = execute(Array(CommandLine.arguments.dropFirst()), console: .standard)
        exit(code.rawValue)
    }

    /// Runs the command named by `arguments` (without the program name) and
    /// returns the exit code.
    public func execute(_ arguments: [String], console: Console) -> ExitCode {
        guard let first = arguments.first else {
            console.writeError("\(name): error: missing command\n\n" + formatter.programHelp(summary: summary, commands: commands))
            return .usage
        }
        let rest = Array(arguments.dropFirst())

        // Program-level help, and `--version` as a spelling of `version`.
        switch first {
        case "--help", "-h":
            console.writeOutput(formatter.programHelp(summary: summary, commands: commands))
            return .success
        case "help":
            guard let target = rest.first, target != "help" else {
                console.writeOutput(formatter.programHelp(summary: summary, commands: commands))
                return .success
            }
            guard let command = command(named: target) else {
                return reportUnknownCommand(target, console: console)
            }
            console.writeOutput(formatter.help(for: command))
            return .success
        case "--version":
            if let command = command(named: "version") {
                return execute(command, rest, console: console)
            }
        default:
            break
        }

        guard let command = command(named: first) else {
            return reportUnknownCommand(first, console: console)
        }
        return execute(command, rest, console: console)
    }

    private func execute(_ command: any Command, _ arguments: [String], console: Console) -> ExitCode {
        let optionWords = arguments.prefix { $0 != "--" }
        if optionWords.contains("--help") || optionWords.contains("-h") {
            console.writeOutput(formatter.help(for: command))
            return .success
        }

        do {
            let parsed = try command.parse(arguments)
            try command.run(parsed)
            return .success
        } catch let error as UsageError {
            console.writeError("""
                \(name) \(command.name): error: \(error.message)
                \(formatter.usageLine(for: command))
                Run '\(name) \(command.name) --help' for the full list of options.

                """)
            return .usage
        } catch {
            console.writeError("\(name) \(command.name): error: \(describe(error))\n")
            return .failure
        }
    }

    private func command(named name: String) -> (any Command)? {
        commands.first { $0.name == name }
    }

    private func reportUnknownCommand(_ word: String, console: Console) -> ExitCode {
        var message: String
        if word.hasPrefix("-") {
            message = "unknown option '\(word)' before the command; options go after the command name"
        } else {
            message = "unknown command '\(word)'"
            let names = commands.map(\.name) + ["help"]
            if let best = Suggestions.ranked(word, among: names).first {
                message += "; did you mean '\(best)'?"
            }
        }
        console.writeError("""
            \(name): error: \(message)
            usage: \(name) <command> [options]
            Run '\(name) --help' to list the commands.

            """)
        return .usage
    }
}

/// Message of an error for the user: the `LocalizedError` description when
/// there is one, else the error's own description.
func describe(_ error: any Error) -> String {
    if let localized = error as? LocalizedError, let description = localized.errorDescription {
        return description
    }
    return String(describing: error)
}
