import Foundation
import XCTest

@testable import TensorCore

#if canImport(Glibc)
import Glibc
#endif

/// Tests of the safetensors reader and writer and of `AtomicFile`.
///
/// Rejection tests craft one invalid file each and check the exact error case.
/// Conversion tests craft files with known bytes and compare the Float32
/// values.
final class SafeTensorsTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let folder {
            // Restores write permission in case a test made the folder read-only.
            chmod(folder.path, 0o755)
            try? FileManager.default.removeItem(at: folder)
        }
    }

    // MARK: - Crafting files

    /// Label that crafted in-memory files carry in error messages.
    private let label = "crafted.safetensors"

    /// Bytes of a file with the given header text and data buffer. The length
    /// field is the header's byte count unless `declaredLength` overrides it.
    private func craftFile(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil) -> Data {
        let headerBytes = Array(header.utf8)
        var file = Data()
        let length = declaredLength ?? UInt64(headerBytes.count)
        withUnsafeBytes(of: length.littleEndian) { file.append(contentsOf: $0) }
        file.append(contentsOf: headerBytes)
        file.append(contentsOf: data)
        return file
    }

    /// One tensor of a crafted file: dtype name, shape and raw bytes.
    private struct CraftedTensor {
        let name: String
        let dtype: String
        let shape: [Int]
        let bytes: [UInt8]
    }

    /// Builds a file that stores `tensors` back to back in the given order.
    private func craftFile(_ tensors: [CraftedTensor], metadata: String? = nil) -> Data {
        var members: [String] = []
        if let metadata { members.append("\"__metadata__\":\(metadata)") }
        var offset = 0
        var data: [UInt8] = []
        for tensor in tensors {
            let shape = tensor.shape.map(String.init).joined(separator: ",")
            let end = offset + tensor.bytes.count
            members.append(
                "\"\(tensor.name)\":{\"dtype\":\"\(tensor.dtype)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            data += tensor.bytes
            offset = end
        }
        return craftFile("{" + members.joined(separator: ",") + "}", data: data)
    }

    private func littleEndianBytes<Word: FixedWidthInteger>(_ words: [Word]) -> [UInt8] {
        var bytes: [UInt8] = []
        for word in words {
            withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    private func float32Bytes(_ values: [Float]) -> [UInt8] {
        littleEndianBytes(values.map(\.bitPattern))
    }

    /// Reads `data` with both `read(from:)` and `readHeader(from:)` and checks
    /// that each throws `expected`, with a description that names the file.
    private func assertRejects(
        _ data: Data, with expected: SafeTensorsError, file: StaticString = #filePath, line: UInt = #line
    ) {
        for reader in ["read", "readHeader"] {
            do {
                if reader == "read" {
                    _ = try SafeTensors.read(from: data, label: label)
                } else {
                    _ = try SafeTensors.readHeader(from: data, label: label)
                }
                XCTFail("\(reader) accepted the file, expected \(expected)", file: file, line: line)
            } catch let error as SafeTensorsError {
                XCTAssertEqual(error, expected, "\(reader)", file: file, line: line)
                XCTAssertTrue(
                    error.description.hasPrefix(label + ": "), "\(reader): \(error.description)",
                    file: file, line: line)
            } catch {
                XCTFail("\(reader) threw \(type(of: error)): \(error)", file: file, line: line)
            }
        }
    }

    /// Reads `data` with `readHeader(from:)` and returns the error it throws.
    private func readHeaderError(_ data: Data) -> SafeTensorsError? {
        do {
            _ = try SafeTensors.readHeader(from: data, label: label)
            return nil
        } catch {
            return error as? SafeTensorsError
        }
    }

    // MARK: - Rejections: file framing

    func testRejectsFileShorterThanLengthField() {
        assertRejects(Data([1, 0, 0, 0, 0]), with: .fileTooShort(file: label, byteCount: 5))
    }

    func testRejectsEmptyFile() {
        assertRejects(Data(), with: .fileTooShort(file: label, byteCount: 0))
    }

    func testRejectsHeaderLengthPastEndOfFile() {
        let data = craftFile("{}", declaredLength: 100)
        assertRejects(data, with: .headerPastEndOfFile(file: label, headerByteCount: 100, fileByteCount: 10))
    }

    func testRejectsHeaderOverSizeLimit() {
        let length = UInt64(SafeTensors.maxHeaderByteCount) + 1
        let data = craftFile("{}", declaredLength: length)
        assertRejects(
            data, with: .headerTooLarge(file: label, headerByteCount: length, limit: SafeTensors.maxHeaderByteCount))
    }

    func testRejectsHeaderLengthNearUInt64Max() {
        let data = craftFile("{}", declaredLength: UInt64.max)
        assertRejects(
            data,
            with: .headerTooLarge(file: label, headerByteCount: UInt64.max, limit: SafeTensors.maxHeaderByteCount))
    }

    func testRejectsPyTorchZipCheckpoint() {
        // Local file header signature of a zip archive, then filler.
        var data = Data([0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00])
        data.append(Data(repeating: 0x41, count: 200))
        assertRejects(data, with: .pytorchZipCheckpoint(file: label))
    }

    func testRejectsPickleProtocols2To5() {
        for proto: UInt8 in 2...5 {
            var data = Data([0x80, proto, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20])
            data.append(Data(repeating: 0, count: 64))
            assertRejects(data, with: .pickleFile(file: label))
        }
    }

    func testZipSignatureInValidLengthIsNotMistaken() throws {
        // A header of 0x4B50 bytes makes the file start with "PK". It must
        // still read as safetensors.
        let headerLength = 0x4B50
        let header = "{}" + String(repeating: " ", count: headerLength - 2)
        let data = craftFile(header)
        XCTAssertEqual(data.prefix(2), Data([0x50, 0x4B]))
        let file = try SafeTensors.read(from: data)
        XCTAssertEqual(file.tensors.count, 0)
        XCTAssertEqual(file.header.headerByteCount, headerLength)
    }

    // MARK: - Rejections: JSON

    func testRejectsHeaderThatIsNotJSON() {
        let data = craftFile("{\"a\": ")
        guard case .headerNotJSON(let file, let offset, _) = readHeaderError(data) else {
            return XCTFail("expected headerNotJSON, got \(String(describing: readHeaderError(data)))")
        }
        XCTAssertEqual(file, label)
        XCTAssertEqual(offset, 6)
    }

    func testRejectsMalformedJSONForms() {
        let cases: [(String, String)] = [
            ("trailing comma in object", "{\"a\":\"1\",}"),
            ("trailing comma in array", "{\"__metadata__\":{},\"t\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}"),
            ("single quotes", "{'a':'b'}"),
            ("unquoted key", "{a:\"b\"}"),
            ("leading zero", "{\"t\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}"),
            ("lone minus", "{\"t\":[-]}"),
            ("missing fraction digits", "{\"t\":[1.]}"),
            ("missing exponent digits", "{\"t\":[1e]}"),
            ("bad literal", "{\"t\":nul}"),
            ("raw newline in string", "{\"a\nb\":\"c\"}"),
            ("invalid escape", "{\"a\\x\":\"c\"}"),
            ("lone high surrogate", "{\"\\ud800\":\"c\"}"),
            ("lone low surrogate", "{\"\\udc00\":\"c\"}"),
            ("short unicode escape", "{\"\\u12\":\"c\"}"),
            ("unterminated string", "{\"abc"),
            ("two values", "{} {}"),
            ("NUL padding", "{}\u{0}\u{0}"),
            ("empty header", ""),
            ("only spaces", "        "),
            ("deep nesting", "{\"a\":" + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"),
        ]
        for (name, header) in cases {
            let error = readHeaderError(craftFile(header))
            guard case .headerNotJSON = error else {
                XCTFail("\(name): expected headerNotJSON, got \(String(describing: error))")
                continue
            }
        }
    }

    func testRejectsInvalidUTF8InHeader() {
        var data = craftFile("{\"ab\":\"c\"}")
        data[8 + 2] = 0xFF  // replaces "a"
        guard case .headerNotJSON = readHeaderError(data) else {
            return XCTFail("expected headerNotJSON, got \(String(describing: readHeaderError(data)))")
        }
    }

    func testRejectsHeaderThatIsNotObject() {
        assertRejects(craftFile("[1, 2]"), with: .headerNotObject(file: label, found: "an array"))
    }

    func testRejectsDuplicateTensorNames() {
        let entry = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}"
        let data = craftFile("{\"a\":\(entry),\"a\":\(entry)}", data: [7])
        assertRejects(data, with: .duplicateTensorName(file: label, name: "a"))
    }

    func testRejectsDuplicateNamesWrittenWithEscapes() {
        // "\u0061" is "a", so both keys name the same tensor.
        let entry = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}"
        let data = craftFile("{\"a\":\(entry),\"\\u0061\":\(entry)}", data: [7])
        assertRejects(data, with: .duplicateTensorName(file: label, name: "a"))
    }

    // MARK: - Rejections: metadata

    func testRejectsDuplicateMetadataObject() {
        let data = craftFile("{\"__metadata__\":{},\"__metadata__\":{}}")
        assertRejects(data, with: .duplicateMetadata(file: label))
    }

    func testRejectsTensorNamedMetadata() {
        let data = craftFile(
            "{\"__metadata__\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0])
        assertRejects(data, with: .reservedTensorName(file: label))
    }

    func testRejectsMetadataThatIsNotObject() {
        let data = craftFile("{\"__metadata__\":\"pt\"}")
        assertRejects(data, with: .metadataNotObject(file: label, found: "the string \"pt\""))
    }

    func testRejectsNonStringMetadataValues() {
        let cases: [(String, String)] = [
            ("5", "the number 5"), ("null", "null"), ("true", "the boolean true"),
            ("[\"a\"]", "an array"), ("{}", "an object"),
        ]
        for (value, found) in cases {
            let data = craftFile("{\"__metadata__\":{\"format\":\"pt\",\"step\":\(value)}}")
            assertRejects(data, with: .metadataValueNotString(file: label, key: "step", found: found))
        }
    }

    func testRejectsDuplicateMetadataKeys() {
        let data = craftFile("{\"__metadata__\":{\"step\":\"1\",\"step\":\"2\"}}")
        assertRejects(data, with: .duplicateMetadataKey(file: label, key: "step"))
    }

    // MARK: - Rejections: tensor entries

    func testRejectsUnknownDType() {
        let data = craftFile([CraftedTensor(name: "w", dtype: "F8_E4M3", shape: [2], bytes: [0, 0])])
        assertRejects(data, with: .unknownDType(file: label, name: "w", dtype: "F8_E4M3"))
    }

    func testRejectsLowercaseDType() {
        let data = craftFile([CraftedTensor(name: "w", dtype: "f32", shape: [1], bytes: [0, 0, 0, 0])])
        assertRejects(data, with: .unknownDType(file: label, name: "w", dtype: "f32"))
    }

    func testRejectsNegativeShapeEntry() {
        let data = craftFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0])
        assertRejects(data, with: .invalidShape(file: label, name: "w", entry: "-1"))
    }

    func testRejectsNonIntegerShapeEntries() {
        for entry in ["2.0", "1e0", "0.5", "\"1\"", "null", "true", "[1]", "99999999999999999999"] {
            let data = craftFile(
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[\(entry)],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0])
            let error = readHeaderError(data)
            guard case .invalidShape(_, "w", _) = error else {
                XCTFail("shape entry \(entry): expected invalidShape, got \(String(describing: error))")
                continue
            }
        }
    }

    func testRejectsShapeWhoseByteCountOverflows() {
        let huge = Int.max / 2
        let data = craftFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[\(huge),4],\"data_offsets\":[0,0]}}")
        guard case .invalidShape(_, "w", _) = readHeaderError(data) else {
            return XCTFail("expected invalidShape, got \(String(describing: readHeaderError(data)))")
        }
    }

    func testRejectsNegativeDataOffset() {
        let data = craftFile("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", data: [0])
        assertRejects(data, with: .invalidDataOffset(file: label, name: "w", entry: "-1"))
    }

    func testRejectsNonIntegerDataOffset() {
        let data = craftFile("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1.0]}}", data: [0])
        assertRejects(data, with: .invalidDataOffset(file: label, name: "w", entry: "1.0"))
    }

    func testRejectsMalformedTensorEntries() {
        let cases: [(String, String)] = [
            ("not an object", "[0,4]"),
            ("missing dtype", "{\"shape\":[1],\"data_offsets\":[0,4]}"),
            ("missing shape", "{\"dtype\":\"F32\",\"data_offsets\":[0,4]}"),
            ("missing data_offsets", "{\"dtype\":\"F32\",\"shape\":[1]}"),
            ("dtype not a string", "{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}"),
            ("shape not an array", "{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}"),
            ("three offsets", "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}"),
            ("offsets not an array", "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\"0-4\"}"),
            ("unknown field", "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"offsets\":[0,4]}"),
            ("repeated field", "{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"),
        ]
        for (name, entry) in cases {
            let error = readHeaderError(craftFile("{\"w\":\(entry)}", data: [0, 0, 0, 0]))
            guard case .invalidTensorEntry(_, "w", _) = error else {
                XCTFail("\(name): expected invalidTensorEntry, got \(String(describing: error))")
                continue
            }
        }
    }

    // MARK: - Rejections: layout of the data buffer

    func testRejectsReversedDataOffsets() {
        let data = craftFile("{\"w\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,0]}}", data: [0, 0, 0, 0])
        assertRejects(data, with: .reversedDataOffsets(file: label, name: "w", begin: 4, end: 0))
    }

    func testRejectsDataOffsetsOutsideBuffer() {
        let data = craftFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: [0, 0, 0, 0])
        assertRejects(data, with: .dataOffsetsOutOfBounds(file: label, name: "w", end: 8, dataByteCount: 4))
    }

    func testRejectsOverlappingTensors() {
        let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}"
        let data = craftFile(header, data: [UInt8](repeating: 0, count: 12))
        assertRejects(data, with: .overlappingTensors(file: label, name: "b", otherName: "a"))
    }

    func testRejectsTensorsSharingBytes() {
        // Two tensors over the same bytes, as an aliasing writer might store
        // tied weights.
        let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"
        let data = craftFile(header, data: [0, 0, 0, 0])
        assertRejects(data, with: .overlappingTensors(file: label, name: "b", otherName: "a"))
    }

    func testRejectsGapBetweenTensors() {
        let header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}"
        let data = craftFile(header, data: [UInt8](repeating: 0, count: 12))
        assertRejects(data, with: .gapBeforeTensor(file: label, name: "b", previousName: "a", gapByteCount: 4))
    }

    func testRejectsGapBeforeFirstTensor() {
        let data = craftFile("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", data: [0, 0, 0, 0])
        assertRejects(data, with: .gapBeforeTensor(file: label, name: "a", previousName: nil, gapByteCount: 2))
    }

    func testRejectsByteCountThatDoesNotMatchShape() {
        let data = craftFile("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}}",
            data: [UInt8](repeating: 0, count: 12))
        assertRejects(data, with: .byteCountMismatch(file: label, name: "w", expected: 16, actual: 12))
    }

    func testRejectsTrailingBytes() {
        let data = craftFile([CraftedTensor(name: "w", dtype: "U8", shape: [2], bytes: [1, 2])]) + Data([9, 9, 9])
        assertRejects(data, with: .trailingBytes(file: label, byteCount: 3))
    }

    func testRejectsDataWithoutTensors() {
        let data = craftFile("{}", data: [0, 0])
        assertRejects(data, with: .trailingBytes(file: label, byteCount: 2))
    }

    // MARK: - Rejections: files on disk

    func testRejectsMissingFile() {
        let url = folder.appendingPathComponent("absent.safetensors")
        XCTAssertThrowsError(try SafeTensors.read(contentsOf: url)) { error in
            guard case .readFailed(let file, _) = error as? SafeTensorsError else {
                return XCTFail("expected readFailed, got \(error)")
            }
            XCTAssertEqual(file, url.path)
        }
    }

    func testRejectsFolder() {
        XCTAssertThrowsError(try SafeTensors.readHeader(contentsOf: folder)) { error in
            XCTAssertEqual(
                error as? SafeTensorsError, .readFailed(file: folder.path, reason: "it is a folder, not a file"))
        }
    }

    func testFileErrorNamesThePath() throws {
        let url = folder.appendingPathComponent("zip.safetensors")
        try Data([0x50, 0x4B, 0x03, 0x04, 0, 0, 0, 0, 0, 0]).write(to: url)
        XCTAssertThrowsError(try SafeTensors.read(contentsOf: url)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .pytorchZipCheckpoint(file: url.path))
            XCTAssertTrue("\(error)".contains(url.path))
            XCTAssertTrue("\(error)".contains("safetensors.torch.save_file"))
        }
    }

    // MARK: - Reading valid files

    func testReadsEmptyHeader() throws {
        let file = try SafeTensors.read(from: craftFile("{}"))
        XCTAssertEqual(file.tensors.count, 0)
        XCTAssertEqual(file.metadata, [:])
        XCTAssertEqual(file.header.fileByteCount, 10)
    }

    func testAcceptsWhitespaceAroundJSON() throws {
        let header = " \n{\t\"w\" : { \"dtype\" : \"U8\", \"shape\" : [ 2 ], \"data_offsets\" : [ 0 , 2 ] } }\r\n   "
        let file = try SafeTensors.read(from: craftFile(header, data: [3, 4]))
        XCTAssertEqual(file["w"]?.data, [3, 4])
    }

    func testReadsEscapedAndNonASCIINames() throws {
        let header = "{\"caf\\u00e9\\ud83d\\ude00\\\"\\/\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}"
        let file = try SafeTensors.read(from: craftFile(header, data: [5]))
        XCTAssertEqual(file.tensors.map(\.name), ["café😀\"/"])
    }

    func testReturnsTensorsInFileOffsetOrder() throws {
        // The header lists c, a, b, the offsets order b, c, a, and the names
        // sort as a, b, c.
        let header = "{\"c\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
            + "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
            + "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}"
        let file = try SafeTensors.read(from: craftFile(header, data: [10, 20, 30]))
        XCTAssertEqual(file.tensors.map(\.name), ["b", "c", "a"])
        XCTAssertEqual(file.tensors.map { $0.tensor.item }, [10, 20, 30])
        XCTAssertEqual(file.tensors.map(\.entry.dataOffsets), [0..<1, 1..<2, 2..<3])
    }

    func testReadsZeroSizeAndRankZeroTensors() throws {
        let data = craftFile([
            CraftedTensor(name: "empty", dtype: "F32", shape: [0, 3], bytes: []),
            CraftedTensor(name: "scalar", dtype: "F32", shape: [], bytes: float32Bytes([2.5])),
            CraftedTensor(name: "empty16", dtype: "F16", shape: [4, 0], bytes: []),
            CraftedTensor(name: "alsoEmpty", dtype: "U8", shape: [0], bytes: []),
        ])
        let file = try SafeTensors.read(from: data)

        XCTAssertEqual(file["empty"]?.shape, [0, 3])
        XCTAssertEqual(file["empty"]?.count, 0)
        XCTAssertEqual(file["scalar"]?.shape, [])
        XCTAssertEqual(file["scalar"]?.item, 2.5)
        XCTAssertEqual(file["empty16"]?.shape, [4, 0])
        XCTAssertEqual(file["alsoEmpty"]?.shape, [0])
        // The zero-size tensor at offset 0 comes before the scalar there, and
        // the two at offset 4 are in name order.
        XCTAssertEqual(file.tensors.map(\.name), ["empty", "scalar", "alsoEmpty", "empty16"])
    }

    func testReadsFromDataSlice() throws {
        let whole = Data([0xAA, 0xBB, 0xCC]) + craftFile([CraftedTensor(name: "w", dtype: "U8", shape: [2], bytes: [1, 2])])
        let slice = whole[3...]
        XCTAssertEqual(slice.startIndex, 3)
        let file = try SafeTensors.read(from: slice)
        XCTAssertEqual(file["w"]?.data, [1, 2])
    }

    func testReadsHeaderWithoutData() throws {
        let data = craftFile(
            [
                CraftedTensor(name: "w", dtype: "BF16", shape: [2, 3], bytes: [UInt8](repeating: 0, count: 12)),
                CraftedTensor(name: "b", dtype: "I64", shape: [3], bytes: [UInt8](repeating: 0, count: 24)),
            ], metadata: "{\"format\":\"pt\"}")
        let url = folder.appendingPathComponent("model.safetensors")
        try data.write(to: url)

        let header = try SafeTensors.readHeader(contentsOf: url)
        XCTAssertEqual(header.metadata, ["format": "pt"])
        XCTAssertEqual(header.entries.map(\.name), ["w", "b"])
        XCTAssertEqual(header.entries.map(\.dtype), [.bf16, .i64])
        XCTAssertEqual(header.entries.map(\.shape), [[2, 3], [3]])
        XCTAssertEqual(header.entries.map(\.byteCount), [12, 24])
        XCTAssertEqual(header.entries.map(\.elementCount), [6, 3])
        XCTAssertEqual(header.dataByteCount, 36)
        XCTAssertEqual(header.fileByteCount, data.count)
    }

    // MARK: - Dtype conversion

    func testConvertsF32() throws {
        let values: [Float] = [0, -0.0, 1, -2.5, .greatestFiniteMagnitude, .leastNonzeroMagnitude, .infinity]
        let file = try SafeTensors.read(from: craftFile([
            CraftedTensor(name: "x", dtype: "F32", shape: [7], bytes: float32Bytes(values))
        ]))
        let decoded = try XCTUnwrap(file["x"]).data
        XCTAssertEqual(decoded.map(\.bitPattern), values.map(\.bitPattern))
    }

    func testConvertsF16KnownValues() throws {
        let cases: [(bits: UInt16, value: Float)] = [
            (0x3C00, 1.0),
            (0xC000, -2.0),
            (0x7BFF, 65504),  // largest finite
            (0x0001, 0x1p-24),  // smallest subnormal, about 5.96e-8
            (0x03FF, 1023 * 0x1p-24),  // largest subnormal
            (0x0400, 0x1p-14),  // smallest normal
            (0x3555, 0.333251953125),
            (0x7C00, .infinity),
            (0xFC00, -.infinity),
            (0x0000, 0),
        ]
        let bytes = littleEndianBytes(cases.map(\.bits) + [0x8000, 0x7E00, 0xFE01])
        let file = try SafeTensors.read(from: craftFile([
            CraftedTensor(name: "h", dtype: "F16", shape: [cases.count + 3], bytes: bytes)
        ]))
        let decoded = try XCTUnwrap(file["h"]).data

        for (index, (bits, value)) in cases.enumerated() {
            XCTAssertEqual(decoded[index], value, "F16 bits 0x\(String(bits, radix: 16))")
        }
        let negativeZero = decoded[cases.count]
        XCTAssertEqual(negativeZero, 0)
        XCTAssertEqual(negativeZero.sign, .minus, "F16 0x8000 is -0")
        XCTAssertTrue(decoded[cases.count + 1].isNaN, "F16 0x7E00 is NaN")
        XCTAssertTrue(decoded[cases.count + 2].isNaN, "F16 0xFE01 is NaN")
        XCTAssertEqual(decoded[cases.count + 2].sign, .minus)
    }

    func testF16DecodingAllBitPatterns() {
        var mismatches = 0
        for bits in 0...UInt16.max {
            let ours = float16BitsToFloat(bits)
            let reference = Float(Float16(bitPattern: bits))
            let same = ours.isNaN ? reference.isNaN : ours.bitPattern == reference.bitPattern
            if !same {
                mismatches += 1
                if mismatches <= 5 { XCTFail("0x\(String(bits, radix: 16)): \(ours) != \(reference)") }
            }
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testF16EncodingKnownValues() {
        let cases: [(value: Float, bits: UInt16)] = [
            (1.0, 0x3C00),
            (-2.0, 0xC000),
            (65504, 0x7BFF),
            (65519, 0x7BFF),  // below the midpoint to infinity
            (65520, 0x7C00),  // the midpoint rounds to even, which is infinity
            (1e6, 0x7C00),
            (-.infinity, 0xFC00),
            (0x1p-24, 0x0001),
            (0x1p-25, 0x0000),  // halfway between 0 and the smallest subnormal: ties to even
            (0x1.8p-25, 0x0001),
            (0x1.8p-24, 0x0002),  // halfway between 1 and 2 subnormal units: ties to even
            (0x1p-14, 0x0400),
            (0x1.ff8p-15, 0x03FF),  // largest subnormal, 1023 units of 2^-24
            (0x1.ffap-15, 0x03FF),  // 1023.25 units
            (0x1.ffcp-15, 0x0400),  // 1023.5 units: ties to even, the smallest normal
            (1 + 0x1p-11, 0x3C00),  // tie between 1 and its successor rounds to even
            (1 + 0x1.8p-11, 0x3C01),
            (.leastNonzeroMagnitude, 0x0000),
            (-0.0, 0x8000),
        ]
        for (value, bits) in cases {
            XCTAssertEqual(floatToFloat16Bits(value), bits, "F16 encoding of \(value)")
        }
        let nanBits = floatToFloat16Bits(.nan)
        XCTAssertEqual(nanBits & 0x7C00, 0x7C00)
        XCTAssertNotEqual(nanBits & 0x03FF, 0, "NaN must not become infinity")
        // A NaN whose payload lies only in the low 13 bits must stay NaN.
        XCTAssertTrue(float16BitsToFloat(floatToFloat16Bits(Float(bitPattern: 0x7F80_0001))).isNaN)
    }

    func testF16EncodingMatchesSwiftFloat16() {
        var generator = SeededGenerator(seed: 16)
        var mismatches = 0
        for _ in 0..<200_000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            if value.isNaN { continue }
            let ours = floatToFloat16Bits(value)
            let reference = Float16(value).bitPattern
            if ours != reference {
                mismatches += 1
                if mismatches <= 5 { XCTFail("\(value): 0x\(String(ours, radix: 16)) != 0x\(String(reference, radix: 16))") }
            }
        }
        XCTAssertEqual(mismatches, 0)
    }

    func testConvertsBF16() throws {
        let cases: [(bits: UInt16, value: Float)] = [
            (0x3F80, 1.0),
            (0xC000, -2.0),
            (0x4049, 3.140625),
            (0x7F7F, Float(bitPattern: 0x7F7F_0000)),  // largest finite, about 3.39e38
            (0x0001, Float(bitPattern: 0x0001_0000)),  // smallest subnormal, 2^-133
            (0x7F80, .infinity),
            (0xFF80, -.infinity),
        ]
        let bytes = littleEndianBytes(cases.map(\.bits) + [0x7FC0])
        let file = try SafeTensors.read(from: craftFile([
            CraftedTensor(name: "b", dtype: "BF16", shape: [cases.count + 1], bytes: bytes)
        ]))
        let decoded = try XCTUnwrap(file["b"]).data

        for (index, (bits, value)) in cases.enumerated() {
            XCTAssertEqual(decoded[index], value, "BF16 bits 0x\(String(bits, radix: 16))")
        }
        XCTAssertTrue(decoded[cases.count].isNaN)
    }

    func testBF16EncodingKnownValues() {
        let cases: [(value: Float, bits: UInt16)] = [
            (1.0, 0x3F80),
            (-2.0, 0xC000),
            (Float(bitPattern: 0x3F80_8000), 0x3F80),  // tie rounds to even (down)
            (Float(bitPattern: 0x3F81_8000), 0x3F82),  // tie rounds to even (up)
            (Float(bitPattern: 0x3F80_8001), 0x3F81),
            (.greatestFiniteMagnitude, 0x7F80),  // rounds past the largest bfloat16
            (.infinity, 0x7F80),
        ]
        for (value, bits) in cases {
            XCTAssertEqual(floatToBFloat16Bits(value), bits, "BF16 encoding of \(value)")
        }
        XCTAssertTrue(bfloat16BitsToFloat(floatToBFloat16Bits(Float(bitPattern: 0x7F80_0001))).isNaN)
    }

    func testConvertsF64() throws {
        let values: [Double] = [1.0, -2.5, 0.1, 1e300, -1e300, 1e-300]
        let bytes = littleEndianBytes(values.map(\.bitPattern) + [Double.nan.bitPattern])
        let file = try SafeTensors.read(from: craftFile([
            CraftedTensor(name: "d", dtype: "F64", shape: [values.count + 1], bytes: bytes)
        ]))
        let decoded = try XCTUnwrap(file["d"]).data
        XCTAssertEqual(Array(decoded.prefix(values.count)), [1.0, -2.5, Float(0.1), .infinity, -.infinity, 0])
        XCTAssertTrue(decoded[values.count].isNaN)
    }

    func testConvertsSignedIntegers() throws {
        let data = craftFile([
            CraftedTensor(
                name: "i64", dtype: "I64", shape: [4],
                bytes: littleEndianBytes([Int64(-1), 1 << 40, .min, .max])),
            CraftedTensor(
                name: "i32", dtype: "I32", shape: [2, 2],
                bytes: littleEndianBytes([Int32(-5), 123_456_789, .min, .max])),
            CraftedTensor(name: "i16", dtype: "I16", shape: [2], bytes: littleEndianBytes([Int16.min, .max])),
            CraftedTensor(name: "i8", dtype: "I8", shape: [3], bytes: littleEndianBytes([Int8.min, -1, .max])),
        ])
        let file = try SafeTensors.read(from: data)

        XCTAssertEqual(file["i64"]?.data, [-1, 1_099_511_627_776, -9.223372e18, 9.223372e18])
        // 123456789 is not a Float32, and the nearest one is 123456792.
        XCTAssertEqual(file["i32"]?.data, [-5, 123_456_792, -2_147_483_648, 2_147_483_648])
        XCTAssertEqual(file["i32"]?.shape, [2, 2])
        XCTAssertEqual(file["i16"]?.data, [-32768, 32767])
        XCTAssertEqual(file["i8"]?.data, [-128, -1, 127])
        XCTAssertEqual(file.tensors.map(\.entry.dtype), [.i64, .i32, .i16, .i8])
        XCTAssertEqual(file.tensors.map(\.entry.byteCount), [32, 16, 4, 3])
    }

    func testConvertsUnsignedIntegersAndBool() throws {
        let data = craftFile([
            CraftedTensor(name: "u8", dtype: "U8", shape: [3], bytes: [0, 128, 255]),
            CraftedTensor(name: "u16", dtype: "U16", shape: [1], bytes: littleEndianBytes([UInt16.max])),
            CraftedTensor(name: "u32", dtype: "U32", shape: [1], bytes: littleEndianBytes([UInt32.max])),
            CraftedTensor(name: "u64", dtype: "U64", shape: [1], bytes: littleEndianBytes([UInt64(1) << 63])),
            CraftedTensor(name: "bool", dtype: "BOOL", shape: [3], bytes: [0, 1, 2]),
        ])
        let file = try SafeTensors.read(from: data)

        XCTAssertEqual(file["u8"]?.data, [0, 128, 255])
        XCTAssertEqual(file["u16"]?.data, [65535])
        XCTAssertEqual(file["u32"]?.data, [4_294_967_296])
        XCTAssertEqual(file["u64"]?.data, [9.223372e18])
        XCTAssertEqual(file["bool"]?.data, [0, 1, 1])
    }

    func testReadsUnalignedData() throws {
        // A 1-byte tensor first puts the F32 and F64 data at odd offsets.
        let data = craftFile([
            CraftedTensor(name: "a", dtype: "U8", shape: [1], bytes: [7]),
            CraftedTensor(name: "b", dtype: "F32", shape: [2], bytes: float32Bytes([1.5, -3])),
            CraftedTensor(name: "c", dtype: "F64", shape: [1], bytes: littleEndianBytes([Double(0.25).bitPattern])),
        ])
        let file = try SafeTensors.read(from: data)
        XCTAssertEqual(file["b"]?.data, [1.5, -3])
        XCTAssertEqual(file["c"]?.data, [0.25])
    }

    // MARK: - Writing

    func testWriterProducesReferenceLayout() throws {
        let tensors: [(name: String, tensor: Tensor)] = [
            ("b", Tensor(shape: [2], data: [1, 2])),
            ("a", Tensor(scalar: 3)),
        ]
        let data = try SafeTensors.encode(tensors, metadata: ["format": "pt"])

        let expectedJSON = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}"
        let padding = (8 - expectedJSON.utf8.count % 8) % 8
        let expectedHeader = expectedJSON + String(repeating: " ", count: padding)
        XCTAssertEqual(expectedHeader.utf8.count % 8, 0)

        let headerLength = data.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        XCTAssertEqual(Int(headerLength), expectedHeader.utf8.count)
        XCTAssertEqual(String(decoding: data[8..<(8 + Int(headerLength))], as: UTF8.self), expectedHeader)
        XCTAssertEqual(Array(data[(8 + Int(headerLength))...]), float32Bytes([3, 1, 2]))
    }

    func testWriterSortsNamesByBytes() throws {
        // Byte order puts "B" (0x42) before "a" (0x61) and "a.10" before "a.2".
        let names = ["a.2", "a", "B", "a.10", "é"]
        let tensors = names.map { (name: $0, tensor: Tensor(scalar: 1)) }
        let header = try SafeTensors.readHeader(from: SafeTensors.encode(tensors))
        XCTAssertEqual(header.entries.map(\.name), ["B", "a", "a.10", "a.2", "é"])
    }

    func testWriterOmitsEmptyMetadata() throws {
        let data = try SafeTensors.encode([("w", Tensor(scalar: 1))])
        XCTAssertFalse(String(decoding: data, as: UTF8.self).contains("__metadata__"))
    }

    func testMetadataRoundTrip() throws {
        let metadata = [
            "format": "pt",
            "config": "{\"channels\": [64, 128], \"name\": \"unet\"}",
            "path": "C:\\models\\base",
            "control": "tab\tnewline\nreturn\r bell\u{07} nul\u{0}",
            "unicode": "café 😀 日本",
            "": "empty key",
            "empty value": "",
        ]
        let url = folder.appendingPathComponent("meta.safetensors")
        try SafeTensors.write([("w", Tensor(shape: [2], data: [1, 2]))], metadata: metadata, to: url)
        let file = try SafeTensors.read(contentsOf: url)
        XCTAssertEqual(file.metadata, metadata)
        XCTAssertEqual(file["w"]?.data, [1, 2])
    }

    func testRoundTripRewritesIdenticalBytes() throws {
        var generator = SeededGenerator(seed: 7)
        let tensors: [(name: String, tensor: Tensor)] = [
            ("down.1.res.0.conv1.weight", generator.normalTensor([8, 4, 3, 3])),
            ("down.1.res.0.conv1.bias", generator.normalTensor([8])),
            ("scale", Tensor(scalar: 0.5)),
            ("empty", Tensor.zeros([0, 5])),
            ("special", Tensor(shape: [4], data: [.nan, .infinity, -.infinity, -0.0])),
        ]
        let metadata = ["format": "hyperfield", "step": "1200"]

        let first = folder.appendingPathComponent("first.safetensors")
        try SafeTensors.write(tensors, metadata: metadata, to: first)
        let read = try SafeTensors.read(contentsOf: first)
        let second = folder.appendingPathComponent("second.safetensors")
        try SafeTensors.write(read.namedTensors, metadata: read.metadata, to: second)

        XCTAssertEqual(try Data(contentsOf: first), try Data(contentsOf: second))
        for (name, tensor) in tensors {
            let loaded = try XCTUnwrap(read[name], name)
            XCTAssertEqual(loaded.shape, tensor.shape, name)
            XCTAssertEqual(loaded.data.map(\.bitPattern), tensor.data.map(\.bitPattern), name)
        }
        XCTAssertEqual(read.tensors.map(\.entry.dtype), Array(repeating: .f32, count: tensors.count))
    }

    func testHalfPrecisionWriteRoundTrip() throws {
        let values: [Float] = [1, -2, 65504, 0x1p-24, .infinity, 0.1, 1e6, -0.0]
        let tensors = [(name: "w", tensor: Tensor(shape: [values.count], data: values))]
        let f16Values = try SafeTensors.read(from: SafeTensors.encode(tensors, dtype: .f16))
        let bf16Values = try SafeTensors.read(from: SafeTensors.encode(tensors, dtype: .bf16))

        XCTAssertEqual(f16Values.tensors[0].entry.dtype, .f16)
        XCTAssertEqual(f16Values.tensors[0].entry.byteCount, values.count * 2)
        XCTAssertEqual(f16Values["w"]?.data, values.map { float16BitsToFloat(floatToFloat16Bits($0)) })
        XCTAssertEqual(f16Values["w"]?.data[5], 0.099975586)  // nearest F16 to 0.1
        XCTAssertEqual(f16Values["w"]?.data[6], .infinity)
        XCTAssertEqual(bf16Values.tensors[0].entry.dtype, .bf16)
        XCTAssertEqual(bf16Values["w"]?.data, values.map { bfloat16BitsToFloat(floatToBFloat16Bits($0)) })
    }

    func testWriterRejectsDuplicateNames() {
        let tensors = [(name: "w", tensor: Tensor(scalar: 1)), (name: "w", tensor: Tensor(scalar: 2))]
        XCTAssertThrowsError(try SafeTensors.encode(tensors, label: label)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .duplicateTensorNameInInput(file: label, name: "w"))
        }
    }

    func testWriterRejectsMetadataName() {
        let tensors = [(name: "__metadata__", tensor: Tensor(scalar: 1))]
        XCTAssertThrowsError(try SafeTensors.encode(tensors, label: label)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .reservedTensorName(file: label))
        }
    }

    func testWriterRejectsIntegerDType() {
        XCTAssertThrowsError(try SafeTensors.encode([("w", Tensor(scalar: 1))], dtype: .i32, label: label)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .unwritableDType(file: label, dtype: .i32))
        }
    }

    func testWriterRejectionKeepsOldFile() throws {
        let url = folder.appendingPathComponent("model.safetensors")
        try SafeTensors.write([("w", Tensor(scalar: 1))], to: url)
        let before = try Data(contentsOf: url)

        let duplicates = [(name: "w", tensor: Tensor(scalar: 2)), (name: "w", tensor: Tensor(scalar: 3))]
        XCTAssertThrowsError(try SafeTensors.write(duplicates, to: url))
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try folderContents(), ["model.safetensors"])
    }

    func testLoadsManyTensorsAndLargeData() throws {
        // 20 000 small tensors exercise the header path, and one tensor of 8 M
        // elements (32 MB) the data path. Both paths are linear in the input
        // size; this test checks their results, not their speed.
        var tensors: [(name: String, tensor: Tensor)] = (0..<20_000).map {
            (name: "layer.\($0).weight", tensor: Tensor(shape: [2], data: [Float($0), -Float($0)]))
        }
        let count = 8 << 20
        var large = [Float](repeating: 0, count: count)
        for index in large.indices { large[index] = Float(index % 1000) }
        tensors.append(("large", Tensor(shape: [count], data: large)))

        let url = folder.appendingPathComponent("large.safetensors")
        try SafeTensors.write(tensors, to: url)
        let file = try SafeTensors.read(contentsOf: url)

        XCTAssertEqual(file.tensors.count, 20_001)
        XCTAssertEqual(file["layer.12345.weight"]?.data, [12345, -12345])
        let loaded = try XCTUnwrap(file["large"])
        XCTAssertEqual(loaded.count, count)
        XCTAssertEqual(loaded.data[count - 1], Float((count - 1) % 1000))
        XCTAssertEqual(loaded.data, large)
    }

    func testLoadedTensorsFillModule() throws {
        final class Layer: Module {
            let weight: Tensor
            let bias: Tensor
            override init() {
                weight = Tensor(shape: [2, 2], data: [1, 2, 3, 4])
                bias = Tensor(shape: [2], data: [5, 6])
                super.init()
                parameter("weight", weight)
                parameter("bias", bias)
            }
        }
        let source = Layer()
        let url = folder.appendingPathComponent("layer.safetensors")
        try SafeTensors.write(source.namedParameters(), to: url)

        let target = Layer()
        target.weight.data = [0, 0, 0, 0]
        try target.load(SafeTensors.read(contentsOf: url).tensorsByName)
        XCTAssertEqual(target.weight.data, [1, 2, 3, 4])
        XCTAssertEqual(target.bias.data, [5, 6])
    }

    // MARK: - Atomic file writes

    private func folderContents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
    }

    func testAtomicWriteLeavesNoTemporaryFile() throws {
        let url = folder.appendingPathComponent("out.bin")
        try AtomicFile.write(Data([1, 2, 3]), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data([1, 2, 3]))
        XCTAssertEqual(try folderContents(), ["out.bin"])
    }

    func testAtomicWriteReplacesExistingFile() throws {
        let url = folder.appendingPathComponent("out.bin")
        try Data(repeating: 9, count: 100).write(to: url)
        try AtomicFile.write(Data([4, 5]), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data([4, 5]))
        XCTAssertEqual(try folderContents(), ["out.bin"])
    }

    func testAtomicWriteOfEmptyData() throws {
        let url = folder.appendingPathComponent("empty.bin")
        try AtomicFile.write(Data(), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data())
    }

    func testAtomicWriteKeepsOldFileOnInjectedError() throws {
        struct InjectedFailure: Error {}
        let url = folder.appendingPathComponent("model.safetensors")
        try Data([1, 1, 1]).write(to: url)

        var temporaryName: String?
        XCTAssertThrowsError(
            try AtomicFile.write(Data([2, 2, 2, 2]), to: url) { temporary in
                // The new bytes are complete in the temporary file before the rename.
                temporaryName = temporary.lastPathComponent
                XCTAssertEqual(try Data(contentsOf: temporary), Data([2, 2, 2, 2]))
                throw InjectedFailure()
            }
        ) { error in
            XCTAssertTrue(error is InjectedFailure, "\(error)")
        }

        let name = try XCTUnwrap(temporaryName)
        XCTAssertTrue(name.hasPrefix(".model.safetensors.tmp-\(getpid())-"), name)
        XCTAssertEqual(try Data(contentsOf: url), Data([1, 1, 1]))
        XCTAssertEqual(try folderContents(), ["model.safetensors"])
    }

    func testAtomicWriteOverFolderFailsAtRename() throws {
        let url = folder.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        try Data([7]).write(to: url.appendingPathComponent("inside"))

        XCTAssertThrowsError(try AtomicFile.write(Data([1]), to: url)) { error in
            XCTAssertEqual((error as? AtomicFileError)?.step, .rename, "\(error)")
            XCTAssertTrue("\(error)".contains(url.path))
        }
        XCTAssertEqual(try folderContents(), ["taken"])
        XCTAssertEqual(try Data(contentsOf: url.appendingPathComponent("inside")), Data([7]))
    }

    func testAtomicWriteIntoMissingFolderFails() {
        let url = folder.appendingPathComponent("absent/out.bin")
        XCTAssertThrowsError(try AtomicFile.write(Data([1]), to: url)) { error in
            XCTAssertEqual(
                error as? AtomicFileError,
                AtomicFileError(destination: url.path, step: .createTemporary, code: ENOENT))
            XCTAssertTrue("\(error)".contains("Create the folder first"))
        }
    }

    func testAtomicWriteReadOnlyFolder() throws {
        if geteuid() == 0 {
            throw XCTSkip("root can write into read-only folders, so this case cannot be set up. "
                + "testAtomicWriteKeepsOldFileOnInjectedError covers the same cleanup path")
        }
        let url = folder.appendingPathComponent("model.safetensors")
        try Data([1, 1]).write(to: url)
        XCTAssertEqual(chmod(folder.path, 0o555), 0)

        XCTAssertThrowsError(try AtomicFile.write(Data([2]), to: url)) { error in
            XCTAssertEqual((error as? AtomicFileError)?.step, .createTemporary, "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: url), Data([1, 1]))
        XCTAssertEqual(try folderContents(), ["model.safetensors"])
    }

    func testAtomicWriteKeepsPermissionBits() throws {
        let url = folder.appendingPathComponent("private.bin")
        try Data([1]).write(to: url)
        XCTAssertEqual(chmod(url.path, 0o600), 0)

        try AtomicFile.write(Data([2]), to: url)
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o600)
    }

    func testAtomicWriteShortensLongNames() throws {
        let name = String(repeating: "n", count: 250)
        let url = folder.appendingPathComponent(name)
        try AtomicFile.write(Data([3]), to: url)
        XCTAssertEqual(try Data(contentsOf: url), Data([3]))
        XCTAssertEqual(try folderContents(), [name])
    }

    func testSafeTensorsWriteFailureKeepsNoTemporary() throws {
        let url = folder.appendingPathComponent("model.safetensors")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        try Data([7]).write(to: url.appendingPathComponent("keep"))
        XCTAssertThrowsError(try SafeTensors.write([("w", Tensor(scalar: 1))], to: url)) { error in
            XCTAssertEqual((error as? AtomicFileError)?.step, .rename, "\(error)")
        }
        XCTAssertEqual(try folderContents(), ["model.safetensors"])
    }
}
