/// One tensor's description in a safetensors header.
public struct SafeTensorsEntry: Equatable, Sendable {
    public let name: String
    /// Element type stored in the file. The reader converts it to Float32.
    public let dtype: SafeTensorsDType
    /// Extent of each axis, outermost first, or `[]` for a rank-0 tensor.
    public let shape: [Int]
    /// Byte range of the tensor in the data buffer that follows the header.
    public let dataOffsets: Range<Int>

    /// Bytes the tensor occupies in the file.
    public var byteCount: Int { dataOffsets.count }

    /// Number of elements, the product of `shape`.
    public var elementCount: Int { byteCount / dtype.byteSize }
}

/// The validated header of a safetensors file: metadata and tensor entries.
///
/// A file is `8 + headerByteCount + dataByteCount` bytes: the header length as
/// a little-endian UInt64, the JSON header (padding included), then the data
/// buffer that the entries' offsets index.
public struct SafeTensorsHeader: Equatable, Sendable {
    /// The `__metadata__` object, or an empty dictionary when the header has
    /// none.
    public let metadata: [String: String]
    /// Tensor entries in order of their offset in the data buffer. Entries
    /// with the same offset, which only zero-size tensors can share, are in
    /// order of name.
    public let entries: [SafeTensorsEntry]
    /// Length of the JSON header in bytes, as stored in the first 8 bytes.
    public let headerByteCount: Int
    /// Length of the data buffer in bytes, equal to the end of the last entry.
    public let dataByteCount: Int

    /// Total file size in bytes.
    public var fileByteCount: Int { 8 + headerByteCount + dataByteCount }
}

extension SafeTensors {
    /// Largest header the reader accepts, in bytes. The reference Rust
    /// implementation has the same limit (`MAX_HEADER_SIZE` in `tensor.rs` of
    /// the `safetensors` crate). At roughly 100 bytes per entry, a header of
    /// this size describes about a million tensors.
    public static let maxHeaderByteCount = 100_000_000

    /// Validates the first bytes of a file and returns its header.
    ///
    /// - Parameters:
    ///   - prefix: the file's first `8 + header length` bytes or more; when
    ///     the file is shorter, all of it.
    ///   - fileByteCount: size of the whole file, used to check the header
    ///     length and the data offsets without reading the data.
    ///   - file: path or label used in error messages.
    static func parseHeader(
        _ prefix: UnsafeRawBufferPointer, fileByteCount: Int, file: String
    ) throws(SafeTensorsError) -> SafeTensorsHeader {
        guard fileByteCount >= 8, prefix.count >= 8 else {
            throw .fileTooShort(file: file, byteCount: fileByteCount)
        }

        let headerLength = UInt64(littleEndian: prefix.loadUnaligned(as: UInt64.self))
        if headerLength > UInt64(maxHeaderByteCount) {
            try rejectForeignFormat(prefix, file: file)
            throw .headerTooLarge(file: file, headerByteCount: headerLength, limit: maxHeaderByteCount)
        }
        if headerLength > UInt64(fileByteCount - 8) {
            try rejectForeignFormat(prefix, file: file)
            throw .headerPastEndOfFile(file: file, headerByteCount: headerLength, fileByteCount: fileByteCount)
        }
        let headerByteCount = Int(headerLength)
        precondition(prefix.count >= 8 + headerByteCount, "parseHeader: prefix is shorter than the header")

        let json: JSONValue
        do {
            json = try StrictJSONParser.parse(UnsafeRawBufferPointer(rebasing: prefix[8..<(8 + headerByteCount)]))
        } catch {
            try rejectForeignFormat(prefix, file: file)
            throw .headerNotJSON(file: file, offset: error.offset, reason: error.reason)
        }
        guard case .object(let members) = json else {
            try rejectForeignFormat(prefix, file: file)
            throw .headerNotObject(file: file, found: json.summary)
        }

        let dataByteCount = fileByteCount - 8 - headerByteCount
        let (metadata, entries) = try parseMembers(members, dataByteCount: dataByteCount, file: file)
        let ordered = try checkLayout(entries, dataByteCount: dataByteCount, file: file)
        return SafeTensorsHeader(
            metadata: metadata, entries: ordered, headerByteCount: headerByteCount,
            dataByteCount: dataByteCount)
    }

    /// Throws a specific error when the bytes look like a PyTorch zip archive
    /// or a pickle, which users sometimes pass in place of safetensors.
    ///
    /// Called only once the bytes failed as safetensors, because a valid
    /// header length can begin with the same bytes (`PK` is a length of
    /// 0x4B50 plus multiples of 65536).
    private static func rejectForeignFormat(_ prefix: UnsafeRawBufferPointer, file: String) throws(SafeTensorsError) {
        if prefix[0] == UInt8(ascii: "P") && prefix[1] == UInt8(ascii: "K") {
            throw .pytorchZipCheckpoint(file: file)
        }
        // Pickle protocols 2 to 5 start with the PROTO opcode 0x80 and the
        // protocol number.
        if prefix[0] == 0x80 && (2...5).contains(prefix[1]) {
            throw .pickleFile(file: file)
        }
    }

    /// Splits the header object into metadata and unordered tensor entries,
    /// checking each entry on its own.
    private static func parseMembers(
        _ members: [JSONMember], dataByteCount: Int, file: String
    ) throws(SafeTensorsError) -> (metadata: [String: String], entries: [SafeTensorsEntry]) {
        var metadata: [String: String]?
        var entries: [SafeTensorsEntry] = []
        entries.reserveCapacity(members.count)
        var seenNames = Set<String>()

        for member in members {
            let (name, value) = (member.key, member.value)
            if name == "__metadata__" {
                if metadata != nil { throw .duplicateMetadata(file: file) }
                metadata = try parseMetadata(value, file: file)
                continue
            }
            guard seenNames.insert(name).inserted else {
                throw .duplicateTensorName(file: file, name: name)
            }
            entries.append(try parseEntry(name: name, value, dataByteCount: dataByteCount, file: file))
        }
        return (metadata ?? [:], entries)
    }

    private static func parseMetadata(_ value: JSONValue, file: String) throws(SafeTensorsError) -> [String: String] {
        guard case .object(let members) = value else {
            throw .metadataNotObject(file: file, found: value.summary)
        }
        // A tensor entry under the reserved name has a non-string
        // `data_offsets`, which gets its own message.
        if members.contains(where: { $0.key == "data_offsets" && !isString($0.value) }) {
            throw .reservedTensorName(file: file)
        }

        var metadata: [String: String] = [:]
        for member in members {
            let key = member.key
            guard case .string(let text) = member.value else {
                throw .metadataValueNotString(file: file, key: key, found: member.value.summary)
            }
            guard metadata.updateValue(text, forKey: key) == nil else {
                throw .duplicateMetadataKey(file: file, key: key)
            }
        }
        return metadata
    }

    private static func isString(_ value: JSONValue) -> Bool {
        if case .string = value { return true }
        return false
    }

    /// Checks one entry's fields, dtype, shape, offsets and byte count.
    private static func parseEntry(
        name: String, _ value: JSONValue, dataByteCount: Int, file: String
    ) throws(SafeTensorsError) -> SafeTensorsEntry {
        guard case .object(let fields) = value else {
            throw .invalidTensorEntry(file: file, name: name, reason: "expected an object, found \(value.summary)")
        }

        var dtypeValue: JSONValue?
        var shapeValue: JSONValue?
        var offsetsValue: JSONValue?
        for field in fields {
            let key = field.key
            switch key {
            case "dtype" where dtypeValue == nil: dtypeValue = field.value
            case "shape" where shapeValue == nil: shapeValue = field.value
            case "data_offsets" where offsetsValue == nil: offsetsValue = field.value
            case "dtype", "shape", "data_offsets":
                throw .invalidTensorEntry(file: file, name: name, reason: "field \"\(key)\" appears more than once")
            default:
                throw .invalidTensorEntry(
                    file: file, name: name,
                    reason: "unknown field \"\(key)\", expected only dtype, shape and data_offsets")
            }
        }

        // dtype
        guard let dtypeValue else {
            throw .invalidTensorEntry(file: file, name: name, reason: "missing field \"dtype\"")
        }
        guard case .string(let dtypeName) = dtypeValue else {
            throw .invalidTensorEntry(
                file: file, name: name, reason: "\"dtype\" must be a string, found \(dtypeValue.summary)")
        }
        guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw .unknownDType(file: file, name: name, dtype: dtypeName)
        }

        // shape
        guard let shapeValue else {
            throw .invalidTensorEntry(file: file, name: name, reason: "missing field \"shape\"")
        }
        guard case .array(let shapeElements) = shapeValue else {
            throw .invalidTensorEntry(
                file: file, name: name, reason: "\"shape\" must be an array, found \(shapeValue.summary)")
        }
        var shape: [Int] = []
        shape.reserveCapacity(shapeElements.count)
        for element in shapeElements {
            guard let extent = nonNegativeInteger(element) else {
                throw .invalidShape(file: file, name: name, entry: jsonText(element))
            }
            shape.append(extent)
        }

        // data_offsets
        guard let offsetsValue else {
            throw .invalidTensorEntry(file: file, name: name, reason: "missing field \"data_offsets\"")
        }
        guard case .array(let offsetElements) = offsetsValue, offsetElements.count == 2 else {
            throw .invalidTensorEntry(
                file: file, name: name,
                reason: "\"data_offsets\" must be an array of two integers [begin, end], found \(jsonText(offsetsValue))")
        }
        var offsets: [Int] = []
        for element in offsetElements {
            guard let offset = nonNegativeInteger(element) else {
                throw .invalidDataOffset(file: file, name: name, entry: jsonText(element))
            }
            offsets.append(offset)
        }
        let (begin, end) = (offsets[0], offsets[1])
        guard begin <= end else {
            throw .reversedDataOffsets(file: file, name: name, begin: begin, end: end)
        }
        guard end <= dataByteCount else {
            throw .dataOffsetsOutOfBounds(file: file, name: name, end: end, dataByteCount: dataByteCount)
        }

        // byte count = element count × element size, without overflow
        var expectedByteCount = dtype.byteSize
        for extent in shape {
            let (product, overflow) = expectedByteCount.multipliedReportingOverflow(by: extent)
            guard !overflow else {
                throw .invalidShape(file: file, name: name, entry: "\(shape) (the byte count overflows)")
            }
            expectedByteCount = product
        }
        guard expectedByteCount == end - begin else {
            throw .byteCountMismatch(file: file, name: name, expected: expectedByteCount, actual: end - begin)
        }

        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, dataOffsets: begin..<end)
    }

    /// Parses a JSON integer literal without sign, fraction or exponent that
    /// fits in `Int`, and returns nil for any other value.
    private static func nonNegativeInteger(_ value: JSONValue) -> Int? {
        guard case .number(let literal) = value,
            literal.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return Int(literal)
    }

    /// Formats a value as short JSON-like text for messages.
    private static func jsonText(_ value: JSONValue) -> String {
        switch value {
        case .number(let literal): return literal
        case .string(let text): return "\"\(text)\""
        case .bool(let flag): return String(flag)
        case .null: return "null"
        case .array(let elements): return "[" + elements.map(jsonText).joined(separator: ", ") + "]"
        case .object: return "an object"
        }
    }

    /// Sorts the entries by offset and checks that they tile the data buffer
    /// from byte 0 to its end, with no overlap and no gap.
    private static func checkLayout(
        _ entries: [SafeTensorsEntry], dataByteCount: Int, file: String
    ) throws(SafeTensorsError) -> [SafeTensorsEntry] {
        // Zero-size entries sort before a non-empty one at the same offset.
        let ordered = entries.sorted { left, right in
            if left.dataOffsets.lowerBound != right.dataOffsets.lowerBound {
                return left.dataOffsets.lowerBound < right.dataOffsets.lowerBound
            }
            if left.dataOffsets.upperBound != right.dataOffsets.upperBound {
                return left.dataOffsets.upperBound < right.dataOffsets.upperBound
            }
            return left.name.utf8.lexicographicallyPrecedes(right.name.utf8)
        }

        var position = 0
        var previousName: String?
        for entry in ordered {
            let begin = entry.dataOffsets.lowerBound
            if begin < position, let previousName {
                throw .overlappingTensors(file: file, name: entry.name, otherName: previousName)
            }
            if begin > position {
                throw .gapBeforeTensor(
                    file: file, name: entry.name, previousName: previousName, gapByteCount: begin - position)
            }
            position = entry.dataOffsets.upperBound
            previousName = entry.name
        }
        if position < dataByteCount {
            throw .trailingBytes(file: file, byteCount: dataByteCount - position)
        }
        return ordered
    }
}
