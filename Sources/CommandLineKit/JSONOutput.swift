import Foundation

/// JSON output of commands run with `--json`: pretty-printed with sorted
/// keys on standard output, so that it diffs cleanly and `jq` reads it. Keys
/// are those of the `Encodable` type, so declare `CodingKeys` for snake case.
public enum JSONOutput {
    /// Encodes `value` as pretty-printed JSON with sorted keys.
    ///
    /// - Throws: `RuntimeError` naming the field when a value has no JSON
    ///   form, such as a NaN or infinite loss.
    public static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            let data = try encoder.encode(value)
            return String(decoding: data, as: UTF8.self)
        } catch EncodingError.invalidValue(let invalid, let context) {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw RuntimeError("cannot write JSON: field '\(path)' is \(invalid), which JSON cannot represent (NaN and infinity have no JSON form)")
        }
    }

    /// Encodes `value` and prints it, followed by a newline, on standard
    /// output.
    public static func write<T: Encodable>(_ value: T) throws {
        print(try encode(value))
    }
}
