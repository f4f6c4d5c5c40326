import Foundation

/// Help and usage text generated from command declarations, wrapped to a
/// fixed width.
public struct HelpFormatter: Sendable {
    /// Program name as typed (`hyperfield`).
    public let programName: String
    /// Maximum line length of help text, in characters.
    public let width: Int

    public init(programName: String, width: Int = 80) {
        self.programName = programName
        self.width = width
    }

    /// Returns the one-line synopsis, such as
    /// `usage: hyperfield sample --adapter <path> [options] <subject>`.
    /// Required named options are spelled out, and the others fold into
    /// `[options]`.
    public func usageLine(for command: any Command) -> String {
        var parts = ["usage:", programName, command.name]
        let declarations = command.declarations
        for declaration in declarations where !declaration.isPositional && declaration.isRequired {
            parts.append(declaration.displayNameWithType)
        }
        if declarations.contains(where: { !$0.isPositional && !$0.isRequired }) {
            parts.append("[options]")
        }
        for declaration in declarations where declaration.isPositional {
            let usageForm = declaration.displayNameWithType
            parts.append(declaration.isRequired ? usageForm : "[\(usageForm)]")
        }
        return parts.joined(separator: " ")
    }

    /// Full `--help` text of one command: synopsis, summary, description, then
    /// every argument and option with its type, unit, default, range and help.
    public func help(for command: any Command) -> String {
        var lines = [usageLine(for: command), ""]
        lines += wrap(capitalizedSentence(command.summary), width: width)

        let description = command.description.trimmingCharacters(in: .whitespacesAndNewlines)
        if !description.isEmpty {
            lines.append("")
            lines += formatParagraphs(description)
        }

        // Arguments and options share one help column.
        let declarations = command.declarations
        let positionalRows = declarations.filter(\.isPositional).map { ($0.displayNameWithType, optionHelp($0)) }
        var namedRows = declarations.filter { !$0.isPositional }.map { ($0.displayNameWithType, optionHelp($0)) }
        namedRows.append(("-h, --help", "show this help and exit"))
        let column = helpColumn(for: positionalRows + namedRows)

        if !positionalRows.isEmpty {
            lines += ["", "arguments:"]
            lines += table(positionalRows, column: column)
        }
        lines += ["", "options:"]
        lines += table(namedRows, column: column)
        return lines.joined(separator: "\n") + "\n"
    }

    /// Program help: synopsis and one line per command.
    public func programHelp(summary: String, commands: [any Command]) -> String {
        var lines = ["usage: \(programName) <command> [options]", ""]
        lines += wrap(capitalizedSentence(summary), width: width)
        lines += ["", "commands:"]
        var rows = commands.map { ($0.name, $0.summary) }
        rows.append(("help", "show the help of the program or of one command"))
        lines += table(rows, column: helpColumn(for: rows))
        lines += ["", "Run '\(programName) <command> --help' for the options of a command."]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Help line of one option with its details in brackets, for example
    /// "DDIM sampling steps [unit: steps; default: 50; range: at least 1]".
    func optionHelp(_ declaration: OptionDeclaration) -> String {
        var details: [String] = []
        if let unit = declaration.unit { details.append("unit: \(unit)") }
        if declaration.isRequired {
            details.append("required")
        } else if let defaultText = declaration.defaultDescription {
            details.append("default: \(defaultText)")
        }
        if let range = declaration.rangeDescription { details.append("range: \(range)") }
        if case .choice(let choices) = declaration.kind, declaration.kind.typeLabel == "<choice>" {
            details.append("one of: \(choices.joined(separator: ", "))")
        }
        return details.isEmpty ? declaration.help : "\(declaration.help) [\(details.joined(separator: "; "))]"
    }

    private static let tableIndent = 2
    private static let tableGap = 2

    /// Column where help starts: after the longest name and a 2-space gap,
    /// but no further right than 32.
    func helpColumn(for rows: [(name: String, help: String)]) -> Int {
        let longest = rows.map(\.name.count).max() ?? 0
        return min(Self.tableIndent + longest + Self.tableGap, 32)
    }

    /// Two-column table: names indented by 2, help starting at `column` and
    /// wrapped with a hanging indent. A name too long for the column puts its
    /// help on the next line.
    func table(_ rows: [(name: String, help: String)], column: Int) -> [String] {
        let indent = Self.tableIndent, gap = Self.tableGap
        let padding = String(repeating: " ", count: column)

        var lines: [String] = []
        for row in rows {
            let name = String(repeating: " ", count: indent) + row.name
            let helpLines = wrap(row.help, width: max(width - column, 20))
            if name.count + gap <= column {
                let first = name + String(repeating: " ", count: column - name.count) + (helpLines.first ?? "")
                lines.append(first)
                lines += helpLines.dropFirst().map { padding + $0 }
            } else {
                lines.append(name)
                lines += helpLines.map { padding + $0 }
            }
        }
        return lines
    }

    /// Wraps paragraphs separated by blank lines. A paragraph with a line
    /// that starts with two spaces is kept as written.
    func formatParagraphs(_ text: String) -> [String] {
        let paragraphs = text.components(separatedBy: "\n\n")
        var lines: [String] = []
        for (index, paragraph) in paragraphs.enumerated() {
            if index > 0 { lines.append("") }
            let paragraphLines = paragraph.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if paragraphLines.contains(where: { $0.hasPrefix("  ") }) {
                lines += paragraphLines
            } else {
                lines += wrap(paragraphLines.joined(separator: " "), width: width)
            }
        }
        return lines
    }

    private func capitalizedSentence(_ text: String) -> String {
        guard let first = text.first else { return text }
        let sentence = first.uppercased() + text.dropFirst()
        return sentence.hasSuffix(".") ? sentence : sentence + "."
    }
}

/// Greedy word wrap to `width` characters. A word longer than the width gets
/// a line of its own rather than being split.
func wrap(_ text: String, width: Int) -> [String] {
    var lines: [String] = []
    var current = ""
    for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
        if current.isEmpty {
            current = String(word)
        } else if current.count + 1 + word.count <= width {
            current += " " + word
        } else {
            lines.append(current)
            current = String(word)
        }
    }
    if !current.isEmpty || lines.isEmpty { lines.append(current) }
    return lines
}
