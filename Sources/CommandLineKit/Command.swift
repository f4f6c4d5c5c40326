/// One subcommand of the program, such as `hyperfield sample`.
///
/// A command is one file: a struct with its texts, one property per option,
/// the list of those options, and `run`.
///
///     struct SampleCommand: Command {
///         let name = "sample"
///         let summary = "generate images of a subject from an adapter"
///         let description = "Runs the DDIM sampler with the adapter in the denoiser's slots."
///
///         let adapter = Option.path("adapter", help: "adapter file").positional()
///         let steps = Option.integer("steps", default: 50, unit: "steps", minimum: 1,
///                                    help: "DDIM sampling steps")
///         let json = Option.json
///         var options: [any CommandOption] { [adapter, steps, json] }
///
///         func run(_ arguments: ParsedArguments) throws {
///             let steps = arguments[self.steps]
///             ...
///         }
///     }
///
/// `run` throws `UsageError` for a command line the declarations cannot
/// reject by themselves (two options that conflict), which exits with code 2,
/// and any other error for failed work, which exits with code 1.
public protocol Command {
    /// Command name in kebab case (`train-field`).
    var name: String { get }
    /// One line for the command list of `hyperfield --help`, lower case,
    /// without a final period.
    var summary: String { get }
    /// Paragraphs for `--help`, separated by blank lines. Lines that start
    /// with two spaces, such as examples, are kept as written.
    var description: String { get }
    /// Options and positional arguments, in the order help lists them.
    /// Positional arguments are read in this order too.
    var options: [any CommandOption] { get }

    func run(_ arguments: ParsedArguments) throws
}

extension Command {
    /// Declarations of the command's options.
    public var declarations: [OptionDeclaration] { options.map(\.declaration) }

    /// Parses the words after the command name, so a command's tests need no
    /// program around it.
    public func parse(_ arguments: [String]) throws(UsageError) -> ParsedArguments {
        try ArgumentParser(declarations: declarations).parse(arguments, commandName: name)
    }

    /// Finds mistakes in the declaration itself: names that are not kebab
    /// case, duplicates, defaults outside their choices, and positional
    /// arguments in an order the parser cannot fill. Returns one message per
    /// mistake, empty when the declaration is sound.
    public func declarationProblems() -> [String] {
        var problems: [String] = []
        if !isKebabCase(name) {
            problems.append("command name '\(name)' is not kebab case (lower-case words joined by '-')")
        }
        if summary.isEmpty {
            problems.append("command '\(name)' has an empty summary")
        }

        var seen: Set<String> = ["help"]
        for declaration in declarations {
            if !isKebabCase(declaration.name) {
                problems.append("'\(name)': option name '\(declaration.name)' is not kebab case")
            }
            if !seen.insert(declaration.name).inserted {
                problems.append("'\(name)': option name '\(declaration.name)' is declared twice or clashes with --help")
            }
            if case .choice(let choices) = declaration.kind, let defaultText = declaration.defaultDescription,
               !choices.contains(defaultText) {
                problems.append("'\(name)': default '\(defaultText)' of --\(declaration.name) is not one of its choices")
            }
            if declaration.kind == .flag && declaration.isPositional {
                problems.append("'\(name)': flag '\(declaration.name)' cannot be positional")
            }
        }

        let positionals = declarations.filter(\.isPositional)
        for (index, declaration) in positionals.enumerated() {
            if case .list = declaration.kind, index != positionals.count - 1 {
                problems.append("'\(name)': positional list <\(declaration.name)> must be the last positional argument")
            }
            if index > 0, declaration.isRequired, !positionals[index - 1].isRequired {
                problems.append("'\(name)': required <\(declaration.name)> follows an optional positional argument")
            }
        }
        return problems
    }
}

/// Returns whether `name` is lower-case words of letters and digits joined
/// by `-`.
func isKebabCase(_ name: String) -> Bool {
    let words = name.split(separator: "-", omittingEmptySubsequences: false)
    guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
    return words.allSatisfy { word in
        !word.isEmpty && word.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) }
    }
}
