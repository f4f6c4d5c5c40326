/// Turns the words after the command name into checked values.
///
/// Accepted forms: `--name value`, `--name=value`, `--name_with_underscores`
/// for `--name-with-underscores`, bare flags, positional words in declared
/// order, and `--` after which every word is positional. An option given
/// twice keeps the last value. `--help` is handled by the program before
/// parsing.
struct ArgumentParser {
    let declarations: [OptionDeclaration]

    func parse(_ arguments: [String], commandName: String) throws(UsageError) -> ParsedArguments {
        var namedDeclarations: [String: OptionDeclaration] = [:]
        for declaration in declarations where !declaration.isPositional {
            namedDeclarations[declaration.name] = declaration
        }
        var values: [String: any Sendable] = [:]
        var givenNames: Set<String> = []
        var positionalWords: [String] = []

        // Named options, in command-line order.
        var index = 0
        var optionsEnded = false
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if optionsEnded || !looksLikeOption(word) {
                positionalWords.append(word)
                continue
            }
            if word == "--" {
                optionsEnded = true
                continue
            }

            let (writtenName, inlineValue) = splitOption(word)
            let name = writtenName.replacingOccurrences(of: "_", with: "-")
            guard word.hasPrefix("--"), let declaration = namedDeclarations[name] else {
                throw unknownOption(word: word, writtenName: writtenName)
            }

            let rawValue: String
            if let inlineValue {
                rawValue = inlineValue
            } else if declaration.kind == .flag {
                rawValue = "true"
            } else if index < arguments.count, !looksLikeOption(arguments[index]) {
                rawValue = arguments[index]
                index += 1
            } else {
                var message = "missing value for \(declaration.displayName), which expects \(declaration.expectedForm)"
                if index < arguments.count {
                    message += "; '\(arguments[index])' after it is read as the next option"
                    message += " (write \(declaration.displayName)=VALUE for a value that starts with '-')"
                }
                throw UsageError(message)
            }
            values[declaration.name] = try parseValue(rawValue, for: declaration)
            givenNames.insert(declaration.name)
        }

        // Positional arguments, in declared order. A list takes the rest, one
        // element per word.
        var wordIndex = 0
        for declaration in declarations where declaration.isPositional {
            guard wordIndex < positionalWords.count else { break }
            if let parseElements = declaration.parseElements {
                let words = Array(positionalWords[wordIndex...])
                wordIndex = positionalWords.count
                do {
                    values[declaration.name] = try parseElements(words)
                } catch {
                    throw valueError(error, declaration: declaration, rawValue: words.joined(separator: " "))
                }
            } else {
                values[declaration.name] = try parseValue(positionalWords[wordIndex], for: declaration)
                wordIndex += 1
            }
            givenNames.insert(declaration.name)
        }
        if wordIndex < positionalWords.count {
            throw unexpectedArgument(positionalWords[wordIndex])
        }

        // Defaults, and required values that are missing.
        for declaration in declarations where values[declaration.name] == nil {
            if let defaultValue = declaration.defaultValue {
                values[declaration.name] = defaultValue
            } else if declaration.isPositional {
                throw UsageError("missing required argument \(declaration.displayName), which expects \(declaration.expectedForm)")
            } else {
                throw UsageError("missing required option \(declaration.displayName), which expects \(declaration.expectedForm)")
            }
        }

        return ParsedArguments(commandName: commandName, values: values, givenNames: givenNames)
    }

    /// Returns whether `word` is an option rather than a value. `-` (standard
    /// input by convention) and negative numbers such as `-0.5` are values.
    private func looksLikeOption(_ word: String) -> Bool {
        guard word.hasPrefix("-"), word != "-" else { return false }
        return Double(word) == nil
    }

    /// Splits `--name=value` into the name without dashes and the value.
    private func splitOption(_ word: String) -> (name: String, value: String?) {
        let body = word.drop { $0 == "-" }
        guard let equals = body.firstIndex(of: "=") else { return (String(body), nil) }
        return (String(body[..<equals]), String(body[body.index(after: equals)...]))
    }

    private func parseValue(_ rawValue: String, for declaration: OptionDeclaration) throws(UsageError) -> any Sendable {
        do {
            return try declaration.parse(rawValue)
        } catch {
            throw valueError(error, declaration: declaration, rawValue: rawValue)
        }
    }

    private func valueError(_ problem: ValueProblem, declaration: OptionDeclaration, rawValue: String) -> UsageError {
        let name = declaration.displayName
        switch problem {
        case .malformed(let detail):
            var message = "\(name) expects \(declaration.expectedForm), got '\(rawValue)'"
            if let detail { message += "; \(detail)" }
            return UsageError(message)
        case .outOfRange(let requirement, let value):
            if case .list = declaration.kind {
                return UsageError("every value of \(name) must be \(requirement), got \(value) in '\(rawValue)'")
            }
            return UsageError("\(name) must be \(requirement), got \(value)")
        case .unknownChoice(let suggestion):
            var message = "\(name) expects \(declaration.expectedForm), got '\(rawValue)'"
            if let suggestion { message += "; did you mean '\(suggestion)'?" }
            return UsageError(message)
        }
    }

    private func unknownOption(word: String, writtenName: String) -> UsageError {
        let name = writtenName.replacingOccurrences(of: "_", with: "-")
        var optionText = word
        if let equals = optionText.firstIndex(of: "=") { optionText = String(optionText[..<equals]) }

        if let positional = declarations.first(where: { $0.isPositional && $0.name == name }) {
            return UsageError("unknown option '\(optionText)'; \(positional.displayName) is a positional argument, so give its value without '--\(name)'")
        }
        if !word.hasPrefix("--"), declarations.contains(where: { !$0.isPositional && $0.name == name }) {
            return UsageError("unknown option '\(optionText)'; did you mean '--\(name)'? Long options take two dashes")
        }

        let candidates = declarations.filter { !$0.isPositional }.map(\.name) + ["help"]
        if let best = Suggestions.ranked(name, among: candidates).first {
            return UsageError("unknown option '\(optionText)'; did you mean '--\(best)'?")
        }
        return UsageError("unknown option '\(optionText)'")
    }

    private func unexpectedArgument(_ word: String) -> UsageError {
        let positionals = declarations.filter(\.isPositional)
        if positionals.isEmpty {
            return UsageError("unexpected argument '\(word)'; this command takes no positional arguments")
        }
        let names = positionals.map(\.displayName).joined(separator: " ")
        return UsageError("unexpected argument '\(word)'; this command takes only \(names)")
    }
}
