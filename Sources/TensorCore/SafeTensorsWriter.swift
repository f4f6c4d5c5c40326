import Foundation

extension SafeTensors {
    /// Writes tensors and metadata to `url` as a safetensors file, through
    /// `AtomicFile` so that a failed write leaves any old file unchanged.
    ///
    /// The layout follows the reference Rust writer. Tensors are sorted by the
    /// bytes of their UTF-8 names, which is the reference order (dtype, then
    /// name) when all tensors share one dtype. The compact JSON header starts
    /// with `__metadata__`, which is omitted when empty, and is padded with
    /// spaces to a multiple of 8 bytes. The data follows with no gaps.
    ///
    /// Metadata keys are sorted by their bytes too, so the same input always
    /// gives the same bytes. NaN and infinity are stored as they are.
    ///
    /// - Parameters:
    ///   - tensors: names and tensors, in any order.
    ///   - metadata: stored as the `__metadata__` object.
    ///   - dtype: `.f32` stores the values as they are. `.f16` and `.bf16` round
    ///     each value to the nearest representable one, ties to even, and
    ///     values past the F16 range become infinity.
    /// - Throws: `SafeTensorsError` for duplicate or reserved names, a dtype
    ///   the writer cannot store, or a header over `maxHeaderByteCount`;
    ///   `AtomicFileError` when the file cannot be written.
    public static func write(
        _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
        dtype: SafeTensorsDType = .f32, to url: URL
    ) throws {
        let data = try encode(tensors, metadata: metadata, dtype: dtype, label: url.path)
        try AtomicFile.write(data, to: url)
    }

    /// Returns the bytes that `write(_:metadata:dtype:to:)` would write.
    ///
    /// - Parameter label: names the output in error messages.
    public static func encode(
        _ tensors: [(name: String, tensor: Tensor)], metadata: [String: String] = [:],
        dtype: SafeTensorsDType = .f32, label: String = inMemoryLabel
    ) throws(SafeTensorsError) -> Data {
        guard dtype.isWritable else {
            throw .unwritableDType(file: label, dtype: dtype)
        }
        var seenNames = Set<String>()
        for (name, _) in tensors {
            if name == "__metadata__" { throw .reservedTensorName(file: label) }
            guard seenNames.insert(name).inserted else {
                throw .duplicateTensorNameInInput(file: label, name: name)
            }
        }

        // Header: names in byte order, offsets assigned back to back.
        let ordered = tensors.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        var header = encodeHeader(ordered, metadata: metadata, dtype: dtype)
        let padding = (8 - header.count % 8) % 8
        header.append(contentsOf: repeatElement(UInt8(ascii: " "), count: padding))
        guard header.count <= maxHeaderByteCount else {
            throw .headerTooLarge(file: label, headerByteCount: UInt64(header.count), limit: maxHeaderByteCount)
        }

        // File: length field, header, then each tensor's elements.
        let dataByteCount = ordered.reduce(0) { $0 + $1.tensor.count * dtype.byteSize }
        var output = Data(count: 8 + header.count + dataByteCount)
        output.withUnsafeMutableBytes { (bytes: UnsafeMutableRawBufferPointer) in
            bytes.storeBytes(of: UInt64(header.count).littleEndian, toByteOffset: 0, as: UInt64.self)
            header.withUnsafeBytes { headerBytes in
                UnsafeMutableRawBufferPointer(rebasing: bytes[8..<(8 + header.count)]).copyMemory(from: headerBytes)
            }
            var offset = 8 + header.count
            for (_, tensor) in ordered {
                let byteCount = tensor.count * dtype.byteSize
                encodeElements(
                    tensor.data, dtype: dtype,
                    into: UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + byteCount)]))
                offset += byteCount
            }
        }
        return output
    }

    /// Builds the compact JSON header, without padding, for tensors already
    /// in output order.
    private static func encodeHeader(
        _ ordered: [(name: String, tensor: Tensor)], metadata: [String: String], dtype: SafeTensorsDType
    ) -> [UInt8] {
        var json: [UInt8] = [UInt8(ascii: "{")]
        var needsComma = false

        if !metadata.isEmpty {
            appendJSONString("__metadata__", to: &json)
            json.append(contentsOf: Array(":{".utf8))
            let keys = metadata.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (index, key) in keys.enumerated() {
                if index > 0 { json.append(UInt8(ascii: ",")) }
                appendJSONString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                appendJSONString(metadata[key]!, to: &json)
            }
            json.append(UInt8(ascii: "}"))
            needsComma = true
        }

        var offset = 0
        for (name, tensor) in ordered {
            if needsComma { json.append(UInt8(ascii: ",")) }
            needsComma = true
            let end = offset + tensor.count * dtype.byteSize
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            appendJSONString(name, to: &json)
            json.append(contentsOf: Array(":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(shape)],".utf8))
            json.append(contentsOf: Array("\"data_offsets\":[\(offset),\(end)]}".utf8))
            offset = end
        }

        json.append(UInt8(ascii: "}"))
        return json
    }

    /// Stores `values` as little-endian elements of `dtype`, which must be
    /// writable, into `bytes`.
    private static func encodeElements(
        _ values: [Float], dtype: SafeTensorsDType, into bytes: UnsafeMutableRawBufferPointer
    ) {
        switch dtype {
        case .f32:
            for (index, value) in values.enumerated() {
                bytes.storeBytes(of: value.bitPattern.littleEndian, toByteOffset: index * 4, as: UInt32.self)
            }
        case .f16:
            for (index, value) in values.enumerated() {
                bytes.storeBytes(of: floatToFloat16Bits(value).littleEndian, toByteOffset: index * 2, as: UInt16.self)
            }
        case .bf16:
            for (index, value) in values.enumerated() {
                bytes.storeBytes(of: floatToBFloat16Bits(value).littleEndian, toByteOffset: index * 2, as: UInt16.self)
            }
        default:
            preconditionFailure("encodeElements: dtype \(dtype.rawValue) is not writable")
        }
    }
}
