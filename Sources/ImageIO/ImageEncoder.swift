import CImageCodecs
import Foundation

/// Settings for JPEG encoding.
public struct JPEGEncodeOptions: Sendable {
    /// libjpeg quality, 1 (smallest) to 100 (best). From 90 up, chroma keeps
    /// full resolution (4:4:4); below 90 it is subsampled 2x2 (4:2:0).
    public var quality: Int = 90
    /// Whether to write a progressive JPEG instead of a baseline one.
    public var progressive: Bool = false
    /// Whether to store one luminance channel instead of colour.
    public var grayscale: Bool = false

    public init(quality: Int = 90, progressive: Bool = false, grayscale: Bool = false) {
        self.quality = quality
        self.progressive = progressive
        self.grayscale = grayscale
    }
}

/// Encodes `RGBImage` as 8-bit RGB PNG or as JPEG, in memory or to a file.
public enum ImageEncoder {
    /// Encodes a non-interlaced 8-bit RGB PNG. `compressionLevel` is zlib's
    /// 0 (none, fastest) to 9 (smallest).
    public static func encodePNG(_ image: RGBImage, compressionLevel: Int = 6) throws -> [UInt8] {
        try validateSize(image, path: "<memory>")
        guard (0...9).contains(compressionLevel) else {
            throw ImageIOError(
                .invalidArgument, path: "<memory>", problem: "PNG compression level \(compressionLevel) is outside 0...9")
        }
        var output = hf_encoded_buffer()
        var status = hf_codec_status()
        let result = image.pixels.withUnsafeBufferPointer { pixels in
            hf_png_encode_rgb8(
                pixels.baseAddress, UInt32(image.width), UInt32(image.height), Int32(compressionLevel), &output, &status)
        }
        return try takeOutput(&output, result: result, status: status, format: "PNG")
    }

    /// Encodes a JFIF JPEG.
    public static func encodeJPEG(_ image: RGBImage, options: JPEGEncodeOptions = JPEGEncodeOptions()) throws -> [UInt8] {
        try validateSize(image, path: "<memory>")
        guard (1...100).contains(options.quality) else {
            throw ImageIOError(.invalidArgument, path: "<memory>", problem: "JPEG quality \(options.quality) is outside 1...100")
        }
        var output = hf_encoded_buffer()
        var status = hf_codec_status()
        let result = image.pixels.withUnsafeBufferPointer { pixels in
            hf_jpeg_encode_rgb8(
                pixels.baseAddress, UInt32(image.width), UInt32(image.height), Int32(options.quality),
                options.progressive ? 1 : 0, options.grayscale ? 1 : 0, &output, &status)
        }
        return try takeOutput(&output, result: result, status: status, format: "JPEG")
    }

    /// Encodes a PNG and writes it to `url` through a temporary file that is
    /// renamed into place.
    public static func writePNG(_ image: RGBImage, to url: URL, compressionLevel: Int = 6) throws {
        let bytes = try relabel(url) { try encodePNG(image, compressionLevel: compressionLevel) }
        try writeFileAtomically(bytes, to: url)
    }

    /// Encodes a JPEG and writes it to `url` through a temporary file that is
    /// renamed into place.
    public static func writeJPEG(_ image: RGBImage, to url: URL, options: JPEGEncodeOptions = JPEGEncodeOptions()) throws {
        let bytes = try relabel(url) { try encodeJPEG(image, options: options) }
        try writeFileAtomically(bytes, to: url)
    }

    private static func validateSize(_ image: RGBImage, path: String) throws {
        guard image.width > 0, image.height > 0, image.width <= Int(UInt32.max), image.height <= Int(UInt32.max) else {
            throw ImageIOError(.invalidArgument, path: path, problem: "cannot encode a \(image.width)x\(image.height) image")
        }
    }

    /// Runs `encode` and puts the destination path into any error it throws.
    private static func relabel(_ url: URL, _ encode: () throws -> [UInt8]) throws -> [UInt8] {
        do {
            return try encode()
        } catch let error as ImageIOError {
            throw ImageIOError(error.kind, path: url.path, problem: error.problem)
        }
    }

    private static func takeOutput(
        _ output: inout hf_encoded_buffer, result: hf_codec_result, status: hf_codec_status, format: String
    ) throws -> [UInt8] {
        defer { hf_encoded_buffer_free(&output) }
        guard result == HF_CODEC_OK, output.bytes != nil else {
            let message = withUnsafeBytes(of: status.message) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw ImageIOError(.encodeFailed, path: "<memory>", problem: "\(format) encoding failed (\(message))")
        }
        return Array(UnsafeBufferPointer(start: output.bytes, count: output.size))
    }
}
