import CImageCodecs
import Foundation

/// Colour model of a source file before conversion to RGB.
public enum SourceColorModel: String, Sendable {
    case gray, grayAlpha, rgb, rgba, palette, yCbCr, cmyk, ycck
}

/// A decoded image with facts about the file it came from.
public struct DecodedImage: Sendable {
    /// The pixels, oriented for display and composited onto the background.
    public var image: RGBImage
    /// Format recognized from the content.
    public let format: ImageFormat
    /// Width declared in the file, before orientation and DCT scaling.
    public let sourceWidth: Int
    /// Height declared in the file, before orientation and DCT scaling.
    public let sourceHeight: Int
    /// The EXIF Orientation tag of a JPEG, or nil when there is none.
    public let orientation: ExifOrientation?
    public let sourceColorModel: SourceColorModel
    /// Bits per sample in the file: 1, 2, 4, 8 or 16.
    public let sourceBitDepth: Int
    /// Whether the file is an interlaced PNG or a progressive JPEG.
    public let isInterlaced: Bool
    /// Whether a PNG had an alpha channel or a tRNS chunk, so that its pixels
    /// were composited onto `DecodeOptions.background`.
    public let wasComposited: Bool
}

/// Decodes PNG and JPEG files to `RGBImage` through libpng and libjpeg.
public enum ImageDecoder {
    /// Reads and decodes the image file at `url`. The format is taken from
    /// the content, so a JPEG named `.png` decodes as a JPEG.
    public static func decode(contentsOf url: URL, options: DecodeOptions = DecodeOptions()) throws -> DecodedImage {
        let bytes = try readFileBytes(url)
        return try decode(bytes, path: url.path, options: options)
    }

    /// Decodes an encoded PNG or JPEG in memory. `path` only labels errors.
    public static func decode(
        _ bytes: [UInt8], path: String = "<memory>", options: DecodeOptions = DecodeOptions()
    ) throws -> DecodedImage {
        guard !bytes.isEmpty else {
            throw ImageIOError(.notAnImage, path: path, problem: "the file is empty")
        }
        guard let format = ImageFormat.detect(bytes) else {
            throw ImageIOError(
                .notAnImage, path: path,
                problem: "the content is not a PNG or JPEG image (it starts with \(describeLeadingBytes(bytes)))")
        }
        guard format.isDecodable else {
            throw ImageIOError(
                .unsupportedFormat, path: path, problem: "the content is a \(format.rawValue) image, which is not supported")
        }
        guard options.maximumPixels > 0, options.minimumSide >= 0 else {
            throw ImageIOError(
                .invalidArgument, path: path,
                problem: "DecodeOptions needs maximumPixels > 0 and minimumSide >= 0, "
                    + "got \(options.maximumPixels) and \(options.minimumSide)")
        }

        var decoded = hf_decoded_image()
        var status = hf_codec_status()
        let limits = hf_decode_limits(
            max_pixels: UInt64(options.maximumPixels), min_side: UInt32(clamping: options.minimumSide))
        let minimumOutput = options.minimumOutputSize ?? DecodeOptions.MinimumOutputSize()
        let result = bytes.withUnsafeBufferPointer { buffer in
            switch format {
            case .jpeg:
                return hf_jpeg_decode(
                    buffer.baseAddress, buffer.count, limits, UInt32(clamping: minimumOutput.shorterSide),
                    UInt32(clamping: minimumOutput.longerSide), &decoded, &status)
            default:
                return hf_png_decode(buffer.baseAddress, buffer.count, limits, &decoded, &status)
            }
        }
        defer { hf_decoded_image_free(&decoded) }
        guard result == HF_CODEC_OK else {
            throw error(for: status, format: format, path: path)
        }

        return makeDecodedImage(from: decoded, format: format, options: options)
    }

    private static func makeDecodedImage(
        from decoded: hf_decoded_image, format: ImageFormat, options: DecodeOptions
    ) -> DecodedImage {
        let width = Int(decoded.width)
        let height = Int(decoded.height)
        let channels = Int(decoded.channels)
        let source = UnsafeBufferPointer(start: decoded.pixels, count: width * height * channels)

        let rgb: [UInt8]
        if channels == 4 {
            rgb = compositeOntoBackground(rgba: source, pixelCount: width * height, background: options.background)
        } else {
            rgb = Array(source)
        }
        var image = RGBImage(width: width, height: height, pixels: rgb)

        var orientation: ExifOrientation? = nil
        if decoded.exif != nil {
            let payload = Array(UnsafeBufferPointer(start: decoded.exif, count: decoded.exif_size))
            orientation = ExifOrientation.parse(exifPayload: payload)
        }
        if options.appliesExifOrientation, let orientation {
            image = orientation.apply(to: image)
        }

        return DecodedImage(
            image: image,
            format: format,
            sourceWidth: Int(decoded.source_width),
            sourceHeight: Int(decoded.source_height),
            orientation: orientation,
            sourceColorModel: sourceColorModel(decoded.source_color),
            sourceBitDepth: Int(decoded.source_bit_depth),
            isInterlaced: decoded.source_interlaced != 0,
            wasComposited: channels == 4)
    }

    private static func error(for status: hf_codec_status, format: ImageFormat, path: String) -> ImageIOError {
        let message = withUnsafeBytes(of: status.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let library = format == .png ? "libpng" : "libjpeg"
        let name = format.rawValue
        switch status.result {
        case HF_CODEC_ZERO_SIZE:
            return ImageIOError(.zeroSize, path: path, problem: "the \(name) header declares an empty image (\(message))")
        case HF_CODEC_TOO_LARGE:
            return ImageIOError(.tooLarge, path: path, problem: "the \(name) image is too large: \(message)")
        case HF_CODEC_TOO_SMALL:
            return ImageIOError(.tooSmall, path: path, problem: "the \(name) image is too small: \(message)")
        case HF_CODEC_UNSUPPORTED:
            return ImageIOError(.unsupportedFormat, path: path, problem: "unsupported \(name): \(message)")
        case HF_CODEC_OUT_OF_MEMORY:
            return ImageIOError(.outOfMemory, path: path, problem: "out of memory while decoding the \(name): \(message)")
        case HF_CODEC_INVALID_ARGUMENT:
            return ImageIOError(.invalidArgument, path: path, problem: "invalid argument to the \(name) decoder: \(message)")
        default:
            return ImageIOError(.corrupt, path: path, problem: "corrupt or truncated \(name) data (\(library): \(message))")
        }
    }

    private static func sourceColorModel(_ color: hf_source_color) -> SourceColorModel {
        switch color {
        case HF_SOURCE_GRAY: return .gray
        case HF_SOURCE_GRAY_ALPHA: return .grayAlpha
        case HF_SOURCE_RGBA: return .rgba
        case HF_SOURCE_PALETTE: return .palette
        case HF_SOURCE_YCBCR: return .yCbCr
        case HF_SOURCE_CMYK: return .cmyk
        case HF_SOURCE_YCCK: return .ycck
        default: return .rgb
        }
    }
}

/// Reads a whole file, turning Foundation's error into an `ImageIOError`.
func readFileBytes(_ url: URL) throws -> [UInt8] {
    do {
        return [UInt8](try Data(contentsOf: url))
    } catch {
        throw ImageIOError(.unreadable, path: url.path, problem: "cannot read the file (\(error.localizedDescription))")
    }
}

/// Formats the first bytes of a file as quoted text when they are printable ASCII,
/// or as hexadecimal otherwise, for error messages.
func describeLeadingBytes(_ bytes: [UInt8]) -> String {
    let leading = bytes.prefix(8)
    if leading.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
        return "\"\(String(decoding: leading, as: UTF8.self))\""
    }
    return leading.map { String(format: "%02X", $0) }.joined(separator: " ")
}
