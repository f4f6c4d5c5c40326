/// An image file format, recognized from the first bytes of the content
/// (its magic number), never from the file name.
public enum ImageFormat: String, Sendable, CaseIterable {
    case png = "PNG"
    case jpeg = "JPEG"
    case gif = "GIF"
    case bmp = "BMP"
    case webp = "WebP"
    case tiff = "TIFF"
    /// HEIF family, including HEIC and AVIF.
    case heif = "HEIF"

    /// Number of leading bytes that `detect` needs to recognize every format.
    public static let signatureLength = 12

    /// Whether this module can decode the format.
    public var isDecodable: Bool {
        self == .png || self == .jpeg
    }

    /// Recognizes the format from the first bytes of a file, or returns nil
    /// when they match no known image format.
    public static func detect<Bytes: Collection>(_ leading: Bytes) -> ImageFormat? where Bytes.Element == UInt8 {
        let bytes = Array(leading.prefix(signatureLength))
        func startsWith(_ signature: [UInt8], at offset: Int = 0) -> Bool {
            bytes.count >= offset + signature.count && Array(bytes[offset..<(offset + signature.count)]) == signature
        }

        if startsWith([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        // SOI followed by the first byte of the next marker.
        if startsWith([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if startsWith(Array("GIF87a".utf8)) || startsWith(Array("GIF89a".utf8)) { return .gif }
        // "BM", the file size, then two reserved 16-bit fields that are zero.
        if startsWith(Array("BM".utf8)) && bytes.count >= 10 && bytes[6..<10].allSatisfy({ $0 == 0 }) { return .bmp }
        if startsWith(Array("RIFF".utf8)) && startsWith(Array("WEBP".utf8), at: 8) { return .webp }
        if startsWith([0x49, 0x49, 0x2A, 0x00]) || startsWith([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        if startsWith(Array("ftyp".utf8), at: 4) {
            let brand = bytes.count >= 12 ? String(decoding: bytes[8..<12], as: UTF8.self) : ""
            let heifBrands: Set<String> = ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1", "avif", "avis"]
            if heifBrands.contains(brand) { return .heif }
        }
        return nil
    }
}
