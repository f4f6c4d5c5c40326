import Foundation

/// The steps that turn a photo into a model input: decode, orient, make
/// square, and resize to `resolution` x `resolution`.
public struct ImagePreparation: Sendable {
    /// Side R of the square output in pixels. Default 64.
    public var resolution: Int = 64
    /// Framing that makes a non-square image square. Default center crop.
    public var framing: SquareFraming = .centerCrop
    /// Fill colour of the padding when `framing` is `.pad`. Default white,
    /// the same as the default background for transparent pixels.
    public var padColor: RGBColor = .white
    /// Limits and background for decoding. `minimumOutputSize` is set by
    /// `load` and ignored here.
    public var decodeOptions = DecodeOptions()
    /// Whether large JPEGs may be decoded at n/8 scale when the output is
    /// small. Default true. The result then differs from a full-size decode
    /// followed by area averaging by a few levels per channel, because the
    /// inverse DCT at reduced size filters differently.
    public var usesJPEGScaling = true

    public init(
        resolution: Int = 64, framing: SquareFraming = .centerCrop, padColor: RGBColor = .white,
        decodeOptions: DecodeOptions = DecodeOptions(), usesJPEGScaling: Bool = true
    ) {
        precondition(resolution > 0, "ImagePreparation: resolution must be positive, got \(resolution)")
        self.resolution = resolution
        self.framing = framing
        self.padColor = padColor
        self.decodeOptions = decodeOptions
        self.usesJPEGScaling = usesJPEGScaling
    }

    /// Squares and resizes a decoded image.
    public func prepare(_ image: RGBImage) -> RGBImage {
        let square: RGBImage
        switch framing {
        case .centerCrop: square = image.centerCroppedToSquare()
        case .pad: square = image.paddedToSquare(color: padColor)
        }
        return square.resized(side: resolution)
    }

    /// Decodes, squares and resizes the image file at `url`.
    public func load(contentsOf url: URL) throws -> RGBImage {
        try load(readFileBytes(url), path: url.path).image
    }

    /// Decodes, squares and resizes an encoded image in memory. Returns the
    /// prepared image and the decoder's facts about the source.
    public func load(_ bytes: [UInt8], path: String) throws -> (image: RGBImage, source: DecodedImage) {
        let decoded = try ImageDecoder.decode(bytes, path: path, options: effectiveDecodeOptions)
        return (prepare(decoded.image), decoded)
    }

    /// `decodeOptions` with the smallest JPEG output that still covers the
    /// square: the shorter side must reach R for a crop, the longer for a pad.
    var effectiveDecodeOptions: DecodeOptions {
        var options = decodeOptions
        guard usesJPEGScaling else {
            options.minimumOutputSize = nil
            return options
        }
        switch framing {
        case .centerCrop: options.minimumOutputSize = .init(shorterSide: resolution)
        case .pad: options.minimumOutputSize = .init(longerSide: resolution)
        }
        return options
    }
}
