/// A safetensors file that cannot be read or tensors that cannot be written,
/// with one case per problem.
///
/// `file` is the path of the file, or a label such as "in-memory data" when
/// the bytes did not come from a file. `description` names the file, the
/// problem and, where there is one, the fix.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be opened, examined or mapped into memory.
    case readFailed(file: String, reason: String)
    /// The file is shorter than the 8-byte header length field.
    case fileTooShort(file: String, byteCount: Int)
    /// The file starts with the zip signature `PK` and looks like a PyTorch
    /// checkpoint (`torch.save` writes zip archives since PyTorch 1.6).
    case pytorchZipCheckpoint(file: String)
    /// The file starts with a pickle protocol 2 to 5 opcode, as older
    /// `torch.save` files and other pickled objects do.
    case pickleFile(file: String)
    /// The header length field exceeds `SafeTensors.maxHeaderByteCount`.
    case headerTooLarge(file: String, headerByteCount: UInt64, limit: Int)
    /// The header length field points past the end of the file.
    case headerPastEndOfFile(file: String, headerByteCount: UInt64, fileByteCount: Int)
    /// The header is not valid UTF-8 JSON. `offset` counts bytes from the
    /// start of the header.
    case headerNotJSON(file: String, offset: Int, reason: String)
    /// The header is valid JSON but not an object.
    case headerNotObject(file: String, found: String)
    /// Two header entries have the same tensor name.
    case duplicateTensorName(file: String, name: String)
    /// `__metadata__` appears more than once in the header.
    case duplicateMetadata(file: String)
    /// `__metadata__` is not an object.
    case metadataNotObject(file: String, found: String)
    /// `__metadata__` contains the same key twice.
    case duplicateMetadataKey(file: String, key: String)
    /// A metadata value is not a string.
    case metadataValueNotString(file: String, key: String, found: String)
    /// A tensor is named `__metadata__`, the name the format reserves for the
    /// metadata object. The reader reports this when `__metadata__` has a
    /// `data_offsets` field; the writer when a tensor has that name.
    case reservedTensorName(file: String)
    /// A tensor entry is not an object, lacks `dtype`, `shape` or
    /// `data_offsets`, has a field of the wrong JSON type, or has an unknown
    /// field.
    case invalidTensorEntry(file: String, name: String, reason: String)
    /// A `dtype` that this reader does not know.
    case unknownDType(file: String, name: String, dtype: String)
    /// A shape entry that is negative or not an integer, or a shape whose
    /// byte count overflows `Int`.
    case invalidShape(file: String, name: String, entry: String)
    /// A data offset that is negative or not an integer.
    case invalidDataOffset(file: String, name: String, entry: String)
    /// `begin` is greater than `end`.
    case reversedDataOffsets(file: String, name: String, begin: Int, end: Int)
    /// A tensor's bytes end past the end of the data buffer.
    case dataOffsetsOutOfBounds(file: String, name: String, end: Int, dataByteCount: Int)
    /// Two tensors share bytes of the data buffer.
    case overlappingTensors(file: String, name: String, otherName: String)
    /// Bytes of the data buffer that belong to no tensor lie before `name`.
    /// `previousName` is nil for a gap at the start of the buffer.
    case gapBeforeTensor(file: String, name: String, previousName: String?, gapByteCount: Int)
    /// A tensor's byte count differs from its dtype size × element count.
    case byteCountMismatch(file: String, name: String, expected: Int, actual: Int)
    /// The file continues after the last tensor's bytes.
    case trailingBytes(file: String, byteCount: Int)
    /// The writer was given two tensors with the same name.
    case duplicateTensorNameInInput(file: String, name: String)
    /// The writer cannot store this dtype.
    case unwritableDType(file: String, dtype: SafeTensorsDType)

    public var description: String {
        switch self {
        case let .readFailed(file, reason):
            return "\(file): cannot read the file: \(reason)"
        case let .fileTooShort(file, byteCount):
            return "\(file): not a safetensors file: it has \(byteCount) bytes, fewer than the 8-byte header length"
        case let .pytorchZipCheckpoint(file):
            return "\(file): not a safetensors file: it starts with the zip signature \"PK\" and looks like a "
                + "PyTorch checkpoint saved by torch.save. Convert it with Python: load it with torch.load and "
                + "save the state dict with safetensors.torch.save_file"
        case let .pickleFile(file):
            return "\(file): not a safetensors file: it starts with a Python pickle opcode, as older PyTorch "
                + "checkpoints do. Convert it with Python: load it with torch.load and save the state dict "
                + "with safetensors.torch.save_file"
        case let .headerTooLarge(file, headerByteCount, limit):
            return "\(file): invalid safetensors header: its length field is \(headerByteCount) bytes, more than "
                + "the limit of \(limit) bytes. The file is damaged or not a safetensors file"
        case let .headerPastEndOfFile(file, headerByteCount, fileByteCount):
            return "\(file): invalid safetensors header: its length field is \(headerByteCount) bytes but the file "
                + "has only \(fileByteCount) bytes. The file is truncated or not a safetensors file"
        case let .headerNotJSON(file, offset, reason):
            return "\(file): invalid safetensors header: not valid JSON at byte \(offset) of the header: \(reason)"
        case let .headerNotObject(file, found):
            return "\(file): invalid safetensors header: expected a JSON object, found \(found)"
        case let .duplicateTensorName(file, name):
            return "\(file): invalid safetensors header: tensor name \"\(name)\" appears more than once"
        case let .duplicateMetadata(file):
            return "\(file): invalid safetensors header: \"__metadata__\" appears more than once"
        case let .metadataNotObject(file, found):
            return "\(file): invalid safetensors header: \"__metadata__\" must be an object of strings, found \(found)"
        case let .duplicateMetadataKey(file, key):
            return "\(file): invalid safetensors metadata: key \"\(key)\" appears more than once"
        case let .metadataValueNotString(file, key, found):
            return "\(file): invalid safetensors metadata: the value of \"\(key)\" must be a string, found \(found)"
        case let .reservedTensorName(file):
            return "\(file): a tensor cannot be named \"__metadata__\", because the safetensors format reserves "
                + "that name for the metadata object. Rename the tensor"
        case let .invalidTensorEntry(file, name, reason):
            return "\(file): invalid safetensors header entry for tensor \"\(name)\": \(reason)"
        case let .unknownDType(file, name, dtype):
            let known = SafeTensorsDType.allCases.map(\.rawValue).joined(separator: ", ")
            return "\(file): tensor \"\(name)\" has unknown dtype \"\(dtype)\". This reader supports \(known)"
        case let .invalidShape(file, name, entry):
            return "\(file): tensor \"\(name)\" has invalid shape entry \(entry). Expected a non-negative "
                + "integer, with a byte count for the whole tensor that fits in 64 bits"
        case let .invalidDataOffset(file, name, entry):
            return "\(file): tensor \"\(name)\" has invalid data offset \(entry). Expected a non-negative integer"
        case let .reversedDataOffsets(file, name, begin, end):
            return "\(file): tensor \"\(name)\" has data_offsets [\(begin), \(end)] with begin after end"
        case let .dataOffsetsOutOfBounds(file, name, end, dataByteCount):
            return "\(file): tensor \"\(name)\" ends at byte \(end) of the data buffer, which has only "
                + "\(dataByteCount) bytes. The file is truncated or its header is wrong"
        case let .overlappingTensors(file, name, otherName):
            return "\(file): tensors \"\(otherName)\" and \"\(name)\" overlap in the data buffer"
        case let .gapBeforeTensor(file, name, previousName, gapByteCount):
            let place = previousName.map { "between tensors \"\($0)\" and \"\(name)\"" }
                ?? "before the first tensor \"\(name)\""
            return "\(file): \(gapByteCount) bytes of the data buffer \(place) belong to no tensor"
        case let .byteCountMismatch(file, name, expected, actual):
            return "\(file): tensor \"\(name)\" has \(actual) bytes but its dtype and shape need \(expected)"
        case let .trailingBytes(file, byteCount):
            return "\(file): \(byteCount) bytes follow the last tensor's data. The file is damaged or was "
                + "appended to"
        case let .duplicateTensorNameInInput(file, name):
            return "\(file): cannot write two tensors named \"\(name)\". Tensor names must be unique"
        case let .unwritableDType(file, dtype):
            let writable = SafeTensorsDType.allCases.filter(\.isWritable).map(\.rawValue).joined(separator: ", ")
            return "\(file): cannot write dtype \(dtype.rawValue). The writer supports \(writable)"
        }
    }
}
