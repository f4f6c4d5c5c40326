import Foundation

/// Kind of value an option or positional argument takes. The kind decides
/// the type label in help (`<int>`, `<path>`) and the accepted form named in
/// error messages.
public indirect enum OptionKind: Sendable, Equatable {
    case integer
    case number
    case text
    case path
    case flag
    case choice([String])
    case list(OptionKind)

    /// Type label shown after the option name in help and usage lines.
    var typeLabel: String {
        switch self {
        case .integer: return "<int>"
        case .number: return "<number>"
        case .text: return "<text>"
        case .path: return "<path>"
        case .flag: return ""
        case .choice(let choices):
            let joined = choices.joined(separator: "|")
            return joined.count <= 24 ? "<\(joined)>" : "<choice>"
        case .list(let element): return "<\(element.typeLabel.dropFirst().dropLast()),...>"
        }
    }

    /// Accepted form as a noun phrase for error messages, such as "a whole
    /// number of steps".
    func expectedForm(unit: String?) -> String {
        switch self {
        case .integer: return unit.map { "a whole number of \($0)" } ?? "a whole number"
        case .number: return unit.map { "a number (\($0))" } ?? "a number"
        case .text: return "text"
        case .path: return "a file or folder path"
        case .flag: return "true or false"
        case .choice(let choices): return "one of \(choices.joined(separator: ", "))"
        case .list(let element):
            let units = unit.map { " (\($0))" } ?? ""
            return "a comma-separated list of \(element.pluralForm)\(units)"
        }
    }

    /// Plural noun for one element of a list, such as "whole numbers".
    var pluralForm: String {
        switch self {
        case .integer: return "whole numbers"
        case .number: return "numbers"
        case .text: return "names"
        case .path: return "paths"
        case .flag: return "true or false values"
        case .choice(let choices): return "values from \(choices.joined(separator: ", "))"
        case .list(let element): return element.pluralForm
        }
    }
}

/// Why a value given on the command line was rejected. The parser adds the
/// option name and the raw value to make the message.
enum ValueProblem: Error, Equatable {
    /// The value does not have the accepted form. `detail` names the bad
    /// element of a list.
    case malformed(detail: String?)
    /// The value parsed but lies outside the declared range, such as
    /// "between 1 and 1000".
    case outOfRange(requirement: String, value: String)
    /// The value is not one of the declared choices.
    case unknownChoice(suggestion: String?)
}

/// A type that a scalar option or a list element can hold.
public protocol OptionScalar: Sendable, Comparable, CustomStringConvertible {
    static var optionKind: OptionKind { get }
    /// Parses one command-line word, returning nil when it has the wrong form.
    static func parseOptionValue(_ text: String) -> Self?
    /// Text for help and messages.
    var optionDisplay: String { get }
}

extension OptionScalar {
    public var optionDisplay: String { description }
}

/// Shows whole values without the trailing ".0", so help reads "between 0
/// and 1".
private func displayReal<T: BinaryFloatingPoint & CustomStringConvertible>(_ value: T) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return value.description
}

extension Int: OptionScalar {
    public static var optionKind: OptionKind { .integer }

    /// Accepts "10", "+10" and, because users type them for step counts,
    /// integral values written as "1e3" or "10.0".
    public static func parseOptionValue(_ text: String) -> Int? {
        if let value = Int(text) { return value }
        guard let real = Double(text), real.isFinite, real == real.rounded(),
              abs(real) < 9.0e15 else { return nil }
        return Int(real)
    }
}

extension Double: OptionScalar {
    public static var optionKind: OptionKind { .number }

    public var optionDisplay: String { displayReal(self) }

    /// Accepts finite decimal numbers ("0.5", "1e-4"); rejects nan and inf.
    public static func parseOptionValue(_ text: String) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }
}

extension Float: OptionScalar {
    public static var optionKind: OptionKind { .number }

    public var optionDisplay: String { displayReal(self) }

    /// Accepts finite numbers that stay finite in Float32.
    public static func parseOptionValue(_ text: String) -> Float? {
        guard let value = Double.parseOptionValue(text), abs(value) <= Double(Float.greatestFiniteMagnitude) else {
            return nil
        }
        return Float(value)
    }
}

extension String: OptionScalar {
    public static var optionKind: OptionKind { .text }
    public static func parseOptionValue(_ text: String) -> String? { text }
}

/// Describes the allowed range for help and error messages: "between 1 and
/// 10", "at least 1", "at most 10", or nil when there is no bound.
func rangeRequirement<T: OptionScalar>(minimum: T?, maximum: T?) -> String? {
    switch (minimum, maximum) {
    case let (low?, high?): return "between \(low.optionDisplay) and \(high.optionDisplay)"
    case let (low?, nil): return "at least \(low.optionDisplay)"
    case let (nil, high?): return "at most \(high.optionDisplay)"
    case (nil, nil): return nil
    }
}

/// Parses a scalar and checks it against the declared bounds.
func parseScalar<T: OptionScalar>(_ text: String, minimum: T?, maximum: T?) throws(ValueProblem) -> T {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    guard let value = T.parseOptionValue(trimmed) else { throw .malformed(detail: nil) }
    if let minimum, value < minimum {
        throw .outOfRange(requirement: rangeRequirement(minimum: minimum, maximum: maximum)!, value: trimmed)
    }
    if let maximum, value > maximum {
        throw .outOfRange(requirement: rangeRequirement(minimum: minimum, maximum: maximum)!, value: trimmed)
    }
    return value
}

/// Splits a comma-separated list. An empty or all-blank value is the empty
/// list, but an empty element between commas is rejected.
func splitList(_ text: String) throws(ValueProblem) -> [String] {
    if text.trimmingCharacters(in: .whitespaces).isEmpty { return [] }
    let elements = text.split(separator: ",", omittingEmptySubsequences: false)
        .map { $0.trimmingCharacters(in: .whitespaces) }
    if elements.contains(where: \.isEmpty) {
        throw .malformed(detail: "it has an empty element between commas")
    }
    return elements
}

/// Parses a comma-separated list, naming the first bad element.
func parseList<T: OptionScalar>(_ text: String, minimum: T?, maximum: T?) throws(ValueProblem) -> [T] {
    try parseElements(try splitList(text), minimum: minimum, maximum: maximum)
}

/// Parses list elements one by one, naming the first bad element.
func parseElements<T: OptionScalar>(_ elements: [String], minimum: T?, maximum: T?) throws(ValueProblem) -> [T] {
    var values: [T] = []
    for element in elements {
        guard let value = T.parseOptionValue(element) else {
            throw .malformed(detail: "'\(element)' is not \(T.optionKind.expectedForm(unit: nil))")
        }
        if (minimum.map { value < $0 } ?? false) || (maximum.map { value > $0 } ?? false) {
            throw .outOfRange(requirement: rangeRequirement(minimum: minimum, maximum: maximum)!, value: element)
        }
        values.append(value)
    }
    return values
}

/// Parses the value of a flag written as `--name=value`.
func parseFlagValue(_ text: String) throws(ValueProblem) -> Bool {
    switch text.lowercased() {
    case "true", "yes", "on", "1": return true
    case "false", "no", "off", "0": return false
    default: throw .malformed(detail: nil)
    }
}

/// Normalizes a name for matching: lower case, underscores read as hyphens.
func normalizedName(_ name: String) -> String {
    name.lowercased().replacingOccurrences(of: "_", with: "-")
}

/// Matches `text` against `choices` ignoring case and treating `_` as `-`,
/// returning the declared spelling.
func matchChoice(_ text: String, among choices: [String]) throws(ValueProblem) -> String {
    let wanted = normalizedName(text.trimmingCharacters(in: .whitespaces))
    if let match = choices.first(where: { normalizedName($0) == wanted }) { return match }
    throw .unknownChoice(suggestion: Suggestions.ranked(wanted, among: choices).first)
}
