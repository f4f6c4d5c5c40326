/// Values of one command line, after defaults were filled in and every value
/// was checked against its declaration.
public struct ParsedArguments: Sendable {
    /// Command name, for messages (`sample`).
    public let commandName: String
    /// Value of every declared option and positional argument, by name.
    let values: [String: any Sendable]
    /// Names the command line gave explicitly, as opposed to defaults.
    let givenNames: Set<String>

    init(commandName: String, values: [String: any Sendable], givenNames: Set<String>) {
        self.commandName = commandName
        self.values = values
        self.givenNames = givenNames
    }

    /// Value of `option`: the one given on the command line, or its default.
    /// Stops the program if the option is not among the command's `options`,
    /// because that is a bug in the command, not in the command line.
    public subscript<Value>(_ option: Option<Value>) -> Value {
        let name = option.declaration.name
        guard let value = values[name] else {
            fatalError("\(option.declaration.displayName) is read by '\(commandName)' but missing from its options")
        }
        guard let typed = value as? Value else {
            fatalError("\(option.declaration.displayName) holds \(type(of: value)), not \(Value.self)")
        }
        return typed
    }

    /// Returns whether the command line gave `option` explicitly.
    public func isGiven<Value>(_ option: Option<Value>) -> Bool {
        givenNames.contains(option.declaration.name)
    }
}
