import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading and writing of safetensors files, the weight format of the
/// Hugging Face ecosystem.
///
/// A file is an 8-byte little-endian header length, a JSON header that maps
/// each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`
/// with an optional `"__metadata__"` object of strings, then the row-major
/// little-endian tensor bytes. Reading validates the whole header before it
/// touches any tensor data and converts every dtype to Float32.
public enum SafeTensors {}

/// A tensor read from a safetensors file, with its entry in the header.
public struct SafeTensorsTensor {
    /// Name, stored dtype, shape and byte range in the file.
    public let entry: SafeTensorsEntry
    /// The values converted to Float32, shaped as `entry.shape`.
    public let tensor: Tensor

    public var name: String { entry.name }
}

/// The contents of a safetensors file: metadata and Float32 tensors.
public struct SafeTensorsFile {
    public let header: SafeTensorsHeader
    /// Tensors in order of their offset in the file, as `header.entries`.
    public let tensors: [SafeTensorsTensor]

    /// The `__metadata__` object, or an empty dictionary when the file has
    /// none.
    public var metadata: [String: String] { header.metadata }

    /// Name and tensor pairs in file order, the form the writer takes.
    public var namedTensors: [(name: String, tensor: Tensor)] {
        tensors.map { ($0.name, $0.tensor) }
    }

    /// Tensors keyed by name, the form `Module.load(_:strict:)` takes.
    public var tensorsByName: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.tensor) })
    }

    /// Finds the tensor with the given name by linear search, or returns nil.
    public subscript(name: String) -> Tensor? {
        tensors.first { $0.name == name }?.tensor
    }
}

extension SafeTensors {
    /// Label used in error messages for bytes that did not come from a file.
    public static let inMemoryLabel = "in-memory data"

    // MARK: - Files

    /// Reads and validates the file at `url` and converts its tensors to
    /// Float32.
    ///
    /// The file is mapped into memory, so a file of many hundreds of
    /// megabytes is read once, in linear time, without a second copy of its
    /// bytes.
    ///
    /// - Throws: `SafeTensorsError` naming the file and the problem.
    public static func read(contentsOf url: URL) throws -> SafeTensorsFile {
        let data = try mapFile(url)
        return try read(from: data, label: url.path)
    }

    /// Reads and validates the header of the file at `url` without converting
    /// any tensor data, as an `inspect` command needs. Only the pages that
    /// hold the header are read from disk.
    ///
    /// - Throws: `SafeTensorsError` naming the file and the problem.
    public static func readHeader(contentsOf url: URL) throws -> SafeTensorsHeader {
        let data = try mapFile(url)
        return try readHeader(from: data, label: url.path)
    }

    // MARK: - Bytes in memory

    /// Reads and validates safetensors bytes held in memory.
    ///
    /// - Parameter label: names the bytes in error messages.
    public static func read(from data: Data, label: String = inMemoryLabel) throws -> SafeTensorsFile {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws(SafeTensorsError) -> SafeTensorsFile in
            let header = try parseHeader(bytes, fileByteCount: bytes.count, file: label)
            let dataStart = 8 + header.headerByteCount

            var tensors: [SafeTensorsTensor] = []
            tensors.reserveCapacity(header.entries.count)
            for entry in header.entries {
                let range = (dataStart + entry.dataOffsets.lowerBound)..<(dataStart + entry.dataOffsets.upperBound)
                let values = decodeElements(UnsafeRawBufferPointer(rebasing: bytes[range]), dtype: entry.dtype)
                let tensor = Tensor(shape: entry.shape, data: values)
                tensor.name = entry.name
                tensors.append(SafeTensorsTensor(entry: entry, tensor: tensor))
            }
            return SafeTensorsFile(header: header, tensors: tensors)
        }
    }

    /// Validates the header of safetensors bytes held in memory.
    ///
    /// - Parameter label: names the bytes in error messages.
    public static func readHeader(from data: Data, label: String = inMemoryLabel) throws -> SafeTensorsHeader {
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws(SafeTensorsError) -> SafeTensorsHeader in
            try parseHeader(bytes, fileByteCount: bytes.count, file: label)
        }
    }

    // MARK: - Conversion

    /// Converts little-endian elements of `dtype` to Float32.
    ///
    /// F16, BF16, 8- and 16-bit integers and BOOL convert exactly. F64 rounds
    /// to the nearest Float32 (beyond its range to infinity), and 32- and
    /// 64-bit integers of magnitude above 2^24 round to the nearest Float32.
    /// BOOL bytes other than 0 read as 1.
    static func decodeElements(_ bytes: UnsafeRawBufferPointer, dtype: SafeTensorsDType) -> [Float] {
        let count = bytes.count / dtype.byteSize
        return [Float](unsafeUninitializedCapacity: count) { values, initializedCount in
            switch dtype {
            case .f32: convert(bytes, into: &values, as: UInt32.self) { Float(bitPattern: $0) }
            case .f64: convert(bytes, into: &values, as: UInt64.self) { Float(Double(bitPattern: $0)) }
            case .f16: convert(bytes, into: &values, as: UInt16.self, float16BitsToFloat)
            case .bf16: convert(bytes, into: &values, as: UInt16.self, bfloat16BitsToFloat)
            case .i64: convert(bytes, into: &values, as: UInt64.self) { Float(Int64(bitPattern: $0)) }
            case .i32: convert(bytes, into: &values, as: UInt32.self) { Float(Int32(bitPattern: $0)) }
            case .i16: convert(bytes, into: &values, as: UInt16.self) { Float(Int16(bitPattern: $0)) }
            case .i8: convert(bytes, into: &values, as: UInt8.self) { Float(Int8(bitPattern: $0)) }
            case .u64: convert(bytes, into: &values, as: UInt64.self) { Float($0) }
            case .u32: convert(bytes, into: &values, as: UInt32.self) { Float($0) }
            case .u16: convert(bytes, into: &values, as: UInt16.self) { Float($0) }
            case .u8: convert(bytes, into: &values, as: UInt8.self) { Float($0) }
            case .bool: convert(bytes, into: &values, as: UInt8.self) { $0 == 0 ? 0 : 1 }
            }
            initializedCount = count
        }
    }

    /// Loads each little-endian `Word` of `bytes`, which need not be aligned,
    /// and stores `transform` of it.
    @inline(__always)
    private static func convert<Word: FixedWidthInteger>(
        _ bytes: UnsafeRawBufferPointer, into values: inout UnsafeMutableBufferPointer<Float>,
        as _: Word.Type, _ transform: (Word) -> Float
    ) {
        let stride = MemoryLayout<Word>.size
        for index in 0..<values.count {
            let word = bytes.loadUnaligned(fromByteOffset: index * stride, as: Word.self)
            values.initializeElement(at: index, to: transform(Word(littleEndian: word)))
        }
    }

    // MARK: - Memory mapping

    /// Maps the regular file at `url` read-only into memory.
    ///
    /// NOTE: if another process truncates the file while it is mapped, reading
    /// the lost pages raises SIGBUS. Files written through `AtomicFile` are
    /// replaced by rename, never truncated in place.
    private static func mapFile(_ url: URL) throws(SafeTensorsError) -> Data {
        let path = url.path
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw .readFailed(file: path, reason: systemErrorText(errno))
        }
        defer { close(descriptor) }

        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            throw .readFailed(file: path, reason: systemErrorText(errno))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw .readFailed(file: path, reason: "it is a folder, not a file")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw .readFailed(file: path, reason: "it is not a regular file")
        }

        let byteCount = Int(info.st_size)
        // mmap rejects a length of 0, and such a file fails the length check
        // anyway.
        if byteCount == 0 { return Data() }
        guard let address = mmap(nil, byteCount, PROT_READ, MAP_PRIVATE, descriptor, 0),
            address != MAP_FAILED
        else {
            throw .readFailed(file: path, reason: "cannot map it into memory: \(systemErrorText(errno))")
        }
        return Data(bytesNoCopy: address, count: byteCount, deallocator: .custom { address, count in
            munmap(address, count)
        })
    }

    private static func systemErrorText(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (errno \(code))"
    }
}
