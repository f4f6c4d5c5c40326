import Foundation

/// Everything the parser and the help generator need to know about one
/// option or positional argument, with its value type erased.
public struct OptionDeclaration: Sendable {
    /// Long name in kebab case, without dashes (`learning-rate`).
    public let name: String
    public let kind: OptionKind
    /// Unit of the value for help and errors ("steps", "seconds").
    public let unit: String?
    /// One-line help text.
    public let help: String
    /// Default as shown in help, or nil when there is none.
    public let defaultDescription: String?
    /// Range as shown in help ("between 1 and 1000"), or nil.
    public let rangeDescription: String?
    /// Whether the command line must give this option or argument.
    public let isRequired: Bool
    /// Whether the value comes by position rather than by `--name`.
    public let isPositional: Bool

    /// Value used when the command line leaves the option out, or nil for a
    /// required option.
    let defaultValue: (any Sendable)?
    let parse: @Sendable (String) throws(ValueProblem) -> any Sendable
    /// For lists: parses words that are elements already, so that a
    /// positional list does not split file names at commas.
    let parseElements: (@Sendable ([String]) throws(ValueProblem) -> any Sendable)?

    /// Name as a user writes it: `--steps` or `<subject>`.
    public var displayName: String { isPositional ? "<\(name)>" : "--\(name)" }

    /// Name with its type label, as in the usage line: `--steps <int>`.
    var displayNameWithType: String {
        if isPositional {
            if case .list = kind { return "<\(name)>..." }
            return "<\(name)>"
        }
        let label = kind.typeLabel
        return label.isEmpty ? "--\(name)" : "--\(name) \(label)"
    }

    /// Accepted form for error messages, such as "a whole number of steps".
    var expectedForm: String {
        if isPositional, case .list(let element) = kind {
            return "one or more \(element.pluralForm)"
        }
        return kind.expectedForm(unit: unit)
    }
}

/// Something a command lists among its options.
public protocol CommandOption: Sendable {
    var declaration: OptionDeclaration { get }
}

/// An option or positional argument whose parsed value has type `Value`.
/// Declare it once as a property of the command, list it in the command's
/// `options`, and read it in `run` with `arguments[option]`.
///
///     let steps = Option.integer("steps", default: 50, unit: "steps", minimum: 1,
///                                help: "DDIM sampling steps")
public struct Option<Value: Sendable>: CommandOption {
    public let declaration: OptionDeclaration

    init(name: String, kind: OptionKind, unit: String?, help: String, defaultValue: Value?,
         defaultDescription: String?, rangeDescription: String? = nil,
         parse: @escaping @Sendable (String) throws(ValueProblem) -> Value,
         parseElements: (@Sendable ([String]) throws(ValueProblem) -> Value)? = nil) {
        var erasedParseElements: (@Sendable ([String]) throws(ValueProblem) -> any Sendable)?
        if let parseElements {
            erasedParseElements = { (words) throws(ValueProblem) -> any Sendable in try parseElements(words) }
        }
        declaration = OptionDeclaration(
            name: name, kind: kind, unit: unit, help: help,
            defaultDescription: defaultValue == nil ? nil : defaultDescription,
            rangeDescription: rangeDescription,
            isRequired: defaultValue == nil, isPositional: false,
            defaultValue: defaultValue.map { $0 as any Sendable },
            parse: { (text) throws(ValueProblem) -> any Sendable in try parse(text) },
            parseElements: erasedParseElements)
    }

    private init(_ declaration: OptionDeclaration) {
        self.declaration = declaration
    }

    /// Returns the same declaration, read by position instead of by
    /// `--name`. A positional list takes every remaining positional word.
    public func positional() -> Option<Value> {
        let original = declaration
        return Option(OptionDeclaration(
            name: original.name, kind: original.kind, unit: original.unit, help: original.help,
            defaultDescription: original.defaultDescription, rangeDescription: original.rangeDescription,
            isRequired: original.isRequired, isPositional: true,
            defaultValue: original.defaultValue, parse: original.parse, parseElements: original.parseElements))
    }

    /// Returns the same declaration made optional with no default, so the
    /// value is nil when the command line leaves it out.
    public func optional() -> Option<Value?> {
        let original = declaration
        let parse = original.parse
        var optionalParseElements: (@Sendable ([String]) throws(ValueProblem) -> any Sendable)?
        if let parseElements = original.parseElements {
            optionalParseElements = { (words) throws(ValueProblem) -> any Sendable in
                Optional(try parseElements(words) as! Value) as any Sendable
            }
        }
        return Option<Value?>(OptionDeclaration(
            name: original.name, kind: original.kind, unit: original.unit, help: original.help,
            defaultDescription: nil, rangeDescription: original.rangeDescription,
            isRequired: false, isPositional: original.isPositional,
            defaultValue: Value?.none as any Sendable,
            parse: { (text) throws(ValueProblem) -> any Sendable in
                Optional(try parse(text) as! Value) as any Sendable
            },
            parseElements: optionalParseElements))
    }
}

// MARK: - Declarations by type. Leaving out `default` makes the option required.

extension Option where Value == Int {
    /// Whole-number option, such as a step or image count.
    public static func integer(
        _ name: String, default defaultValue: Int? = nil, unit: String? = nil,
        minimum: Int? = nil, maximum: Int? = nil, help: String
    ) -> Option<Int> {
        Option(name: name, kind: .integer, unit: unit, help: help, defaultValue: defaultValue,
               defaultDescription: defaultValue.map(String.init),
               rangeDescription: rangeRequirement(minimum: minimum, maximum: maximum),
               parse: { (text) throws(ValueProblem) in try parseScalar(text, minimum: minimum, maximum: maximum) })
    }
}

extension Option where Value == Double {
    /// Real-number option, such as a learning rate or a guidance scale.
    public static func double(
        _ name: String, default defaultValue: Double? = nil, unit: String? = nil,
        minimum: Double? = nil, maximum: Double? = nil, help: String
    ) -> Option<Double> {
        Option(name: name, kind: .number, unit: unit, help: help, defaultValue: defaultValue,
               defaultDescription: defaultValue?.optionDisplay,
               rangeDescription: rangeRequirement(minimum: minimum, maximum: maximum),
               parse: { (text) throws(ValueProblem) in try parseScalar(text, minimum: minimum, maximum: maximum) })
    }
}

extension Option where Value == Float {
    /// Real-number option read as Float32, for values that go straight into
    /// tensors.
    public static func float(
        _ name: String, default defaultValue: Float? = nil, unit: String? = nil,
        minimum: Float? = nil, maximum: Float? = nil, help: String
    ) -> Option<Float> {
        Option(name: name, kind: .number, unit: unit, help: help, defaultValue: defaultValue,
               defaultDescription: defaultValue?.optionDisplay,
               rangeDescription: rangeRequirement(minimum: minimum, maximum: maximum),
               parse: { (text) throws(ValueProblem) in try parseScalar(text, minimum: minimum, maximum: maximum) })
    }
}

extension Option where Value == String {
    /// Free-text option, such as a name or a pattern.
    public static func string(
        _ name: String, default defaultValue: String? = nil, unit: String? = nil, help: String
    ) -> Option<String> {
        Option(name: name, kind: .text, unit: unit, help: help, defaultValue: defaultValue,
               defaultDescription: defaultValue.map { $0.isEmpty ? "\"\"" : $0 },
               parse: { text in text })
    }

    /// File or folder path. A leading `~` is expanded, because the shell
    /// leaves it alone in `--name=~/x`. Whether the path exists is for the
    /// command to check.
    public static func path(
        _ name: String, default defaultValue: String? = nil, help: String
    ) -> Option<String> {
        Option(name: name, kind: .path, unit: nil, help: help, defaultValue: defaultValue,
               defaultDescription: defaultValue,
               parse: { (text) throws(ValueProblem) in
                   guard !text.isEmpty else { throw .malformed(detail: "the path is empty") }
                   return text.hasPrefix("~") ? NSString(string: text).expandingTildeInPath : text
               })
    }

    /// Option whose value is one of a fixed set of words. Matching ignores
    /// case and reads `_` as `-`, and the value is the declared spelling.
    public static func choice(
        _ name: String, choices: [String], default defaultValue: String? = nil, help: String
    ) -> Option<String> {
        Option(name: name, kind: .choice(choices), unit: nil, help: help, defaultValue: defaultValue,
               defaultDescription: defaultValue,
               parse: { (text) throws(ValueProblem) in try matchChoice(text, among: choices) })
    }
}

extension Option where Value == Bool {
    /// Flag: false unless given. `--name=false` (or no, off, 0) is accepted
    /// too, so scripts can pass a computed value.
    public static func flag(_ name: String, help: String) -> Option<Bool> {
        Option(name: name, kind: .flag, unit: nil, help: help, defaultValue: false,
               defaultDescription: nil,
               parse: { (text) throws(ValueProblem) in try parseFlagValue(text) })
    }

    /// The `--json` flag of commands that can print their results as JSON
    /// through `JSONOutput`.
    public static var json: Option<Bool> {
        flag("json", help: "print the results as JSON on standard output instead of text")
    }
}

extension Option where Value: CaseIterable & RawRepresentable, Value.RawValue == String {
    /// Option whose value is a case of a string-backed enum. The choices are
    /// the raw values of all cases.
    public static func choice(_ name: String, default defaultValue: Value? = nil, help: String) -> Option<Value> {
        let choices = Value.allCases.map(\.rawValue)
        return Option(name: name, kind: .choice(choices), unit: nil, help: help, defaultValue: defaultValue,
                      defaultDescription: defaultValue?.rawValue,
                      parse: { (text) throws(ValueProblem) in
                          Value(rawValue: try matchChoice(text, among: choices))!
                      })
    }
}

extension Option {
    /// Comma-separated list (`--states 0,250,500`), with optional bounds
    /// checked on every element.
    public static func list<Element: OptionScalar>(
        _ name: String, of elementType: Element.Type, default defaultValue: [Element]? = nil,
        unit: String? = nil, minimum: Element? = nil, maximum: Element? = nil, help: String
    ) -> Option<[Element]> where Value == [Element] {
        Option(name: name, kind: .list(Element.optionKind), unit: unit, help: help, defaultValue: defaultValue,
               defaultDescription: defaultValue.map { $0.isEmpty ? "none" : $0.map(\.optionDisplay).joined(separator: ",") },
               rangeDescription: rangeRequirement(minimum: minimum, maximum: maximum),
               parse: { (text) throws(ValueProblem) in try parseList(text, minimum: minimum, maximum: maximum) },
               parseElements: { (words) throws(ValueProblem) in
                   try parseElements(words, minimum: minimum, maximum: maximum)
               })
    }
}
