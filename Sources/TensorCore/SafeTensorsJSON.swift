/// A parsed JSON value of a safetensors header.
///
/// Objects keep their members in file order, duplicates included, so that the
/// header validation can reject duplicate keys. Foundation's
/// `JSONSerialization` keeps only one member per key, which would hide a
/// duplicated tensor name. Numbers keep their literal text, so that an
/// integer field can reject `2.0` or `1e3` instead of rounding them.
enum JSONValue {
    case object([JSONMember])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// The JSON type's name and, for short scalars, the value, for messages.
    var summary: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string(let text): return text.count <= 40 ? "the string \"\(text)\"" : "a string"
        case .number(let literal): return "the number \(literal)"
        case .bool(let value): return "the boolean \(value)"
        case .null: return "null"
        }
    }
}

/// One `"key": value` pair of a JSON object.
struct JSONMember {
    let key: String
    let value: JSONValue
}

/// A syntax error at a byte offset of the parsed text.
struct JSONSyntaxError: Error {
    let offset: Int
    let reason: String
}

/// A strict RFC 8259 JSON parser over UTF-8 bytes.
///
/// It accepts exactly one value surrounded by optional whitespace, rejects
/// invalid UTF-8, unescaped control characters, lone surrogate escapes,
/// leading zeros, trailing commas and nesting deeper than `maxDepth`, and
/// runs in time linear in the input.
struct StrictJSONParser {
    /// Maximum nesting of arrays and objects. A safetensors header needs 3
    /// levels, and the limit keeps hostile input from exhausting the stack.
    static let maxDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    private init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Parses `bytes` as one JSON text.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSONValue {
        var parser = StrictJSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.position < bytes.count {
            throw parser.error("unexpected \(parser.describeCurrentByte()) after the end of the JSON value")
        }
        return value
    }

    // MARK: - Values

    private mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard position < bytes.count else { throw error("unexpected end of input, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try parseNumber())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        default:
            throw error("unexpected \(describeCurrentByte()), expected a value")
        }
    }

    private mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth) levels") }
        position += 1  // "{"
        var members: [JSONMember] = []
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return .object(members) }

        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw error("expected a string key, found \(describeCurrentByte())")
            }
            let key = try parseString()
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else {
                throw error("expected \":\" after key \"\(key)\", found \(describeCurrentByte())")
            }
            skipWhitespace()
            let value = try parseValue(depth: depth)
            members.append(JSONMember(key: key, value: value))

            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "}")) { return .object(members) }
            throw error("expected \",\" or \"}\" in an object, found \(describeCurrentByte())")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        if depth > Self.maxDepth { throw error("nesting deeper than \(Self.maxDepth) levels") }
        position += 1  // "["
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return .array(elements) }

        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            if consume(UInt8(ascii: "]")) { return .array(elements) }
            throw error("expected \",\" or \"]\" in an array, found \(describeCurrentByte())")
        }
    }

    // MARK: - Strings

    private mutating func parseString() throws(JSONSyntaxError) -> String {
        let start = position
        position += 1  // opening quote
        var utf8: [UInt8] = []

        while true {
            guard position < bytes.count else {
                throw JSONSyntaxError(offset: start, reason: "unterminated string")
            }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                position += 1
                break
            }
            if byte < 0x20 {
                throw error("unescaped control character 0x\(String(byte, radix: 16)) in a string")
            }
            if byte == UInt8(ascii: "\\") {
                try parseEscape(into: &utf8)
            } else {
                utf8.append(byte)
                position += 1
            }
        }

        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw JSONSyntaxError(offset: start, reason: "string is not valid UTF-8")
        }
        return text
    }

    /// Decodes the escape sequence at `position` and appends its UTF-8 bytes.
    private mutating func parseEscape(into utf8: inout [UInt8]) throws(JSONSyntaxError) {
        position += 1  // backslash
        guard position < bytes.count else { throw error("unterminated escape sequence") }
        let letter = bytes[position]
        position += 1
        switch letter {
        case UInt8(ascii: "\""): utf8.append(0x22)
        case UInt8(ascii: "\\"): utf8.append(0x5C)
        case UInt8(ascii: "/"): utf8.append(0x2F)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            let scalar = try parseUnicodeEscape()
            utf8.append(contentsOf: String(Character(scalar)).utf8)
        default:
            position -= 1
            throw error("invalid escape sequence \\\(describeCurrentByte())")
        }
    }

    /// Decodes `XXXX` after `\u`, and the low half `\uXXXX` that must follow a
    /// high surrogate.
    private mutating func parseUnicodeEscape() throws(JSONSyntaxError) -> Unicode.Scalar {
        let first = try parseHexQuad()
        if (0xDC00...0xDFFF).contains(first) {
            throw error("low surrogate \\u\(String(first, radix: 16)) without a preceding high surrogate")
        }
        if !(0xD800...0xDBFF).contains(first) {
            // Every value outside the surrogate range is a valid scalar.
            return Unicode.Scalar(first)!
        }

        guard position + 1 < bytes.count,
            bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u")
        else {
            throw error("high surrogate \\u\(String(first, radix: 16)) is not followed by a low surrogate")
        }
        position += 2
        let second = try parseHexQuad()
        guard (0xDC00...0xDFFF).contains(second) else {
            throw error("high surrogate \\u\(String(first, radix: 16)) is followed by \\u\(String(second, radix: 16)), not a low surrogate")
        }
        let combined = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        return Unicode.Scalar(combined)!
    }

    private mutating func parseHexQuad() throws(JSONSyntaxError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("incomplete \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid hexadecimal digit \(describeCurrentByte()) in a \\u escape")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    // MARK: - Numbers and literals

    /// Checks the number grammar `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`
    /// and returns the literal text.
    private mutating func parseNumber() throws(JSONSyntaxError) -> String {
        let start = position
        _ = consume(UInt8(ascii: "-"))

        if consume(UInt8(ascii: "0")) {
            if position < bytes.count, isDigit(bytes[position]) {
                throw error("leading zero in a number")
            }
        } else {
            guard skipDigits() > 0 else { throw error("expected a digit, found \(describeCurrentByte())") }
        }
        if consume(UInt8(ascii: ".")) {
            guard skipDigits() > 0 else { throw error("expected a digit after the decimal point") }
        }
        if consume(UInt8(ascii: "e")) || consume(UInt8(ascii: "E")) {
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard skipDigits() > 0 else { throw error("expected a digit in the exponent") }
        }

        // The grammar admits ASCII only, so the bytes are valid UTF-8.
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    }

    private mutating func skipDigits() -> Int {
        let start = position
        while position < bytes.count, isDigit(bytes[position]) { position += 1 }
        return position - start
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONSyntaxError) {
        let start = position
        let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for byte in expected {
            guard position < bytes.count, bytes[position] == byte else {
                throw JSONSyntaxError(offset: start, reason: "invalid literal, expected \(literal)")
            }
            position += 1
        }
    }

    // MARK: - Helpers

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    /// Advances past `byte` and returns true when it is the next byte.
    private mutating func consume(_ byte: UInt8) -> Bool {
        guard position < bytes.count, bytes[position] == byte else { return false }
        position += 1
        return true
    }

    private func describeCurrentByte() -> String {
        guard position < bytes.count else { return "end of input" }
        let byte = bytes[position]
        if byte >= 0x21 && byte < 0x7F {
            return "\"\(Character(Unicode.Scalar(byte)))\""
        }
        return "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    private func error(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: position, reason: reason)
    }
}

// MARK: - Writing

/// Appends `text` as a JSON string literal, quotes included.
///
/// Quote, backslash and control characters are escaped (`\b \f \n \r \t`
/// or `\u00XX`). Everything else, non-ASCII included, is copied as UTF-8.
func appendJSONString(_ text: String, to output: inout [UInt8]) {
    output.append(UInt8(ascii: "\""))
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""): output.append(contentsOf: [0x5C, 0x22])
        case UInt8(ascii: "\\"): output.append(contentsOf: [0x5C, 0x5C])
        case 0x08: output.append(contentsOf: [0x5C, UInt8(ascii: "b")])
        case 0x0C: output.append(contentsOf: [0x5C, UInt8(ascii: "f")])
        case 0x0A: output.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: output.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: output.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x00..<0x20:
            let hex = String(byte, radix: 16)
            let padded = String(repeating: "0", count: 4 - hex.count) + hex
            output.append(contentsOf: Array("\\u\(padded)".utf8))
        default:
            output.append(byte)
        }
    }
    output.append(UInt8(ascii: "\""))
}
