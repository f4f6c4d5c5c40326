/// Settings for decoding one image file.
public struct DecodeOptions: Sendable {
    /// Maximum width * height of the declared size. Larger images are
    /// rejected before any pixel buffer is allocated, which protects against
    /// files that declare a huge size in a few bytes. Default 50 megapixels.
    public var maximumPixels: Int = 50_000_000

    /// Minimum length in pixels of the shorter side. Smaller images, such as
    /// 1x1 tracking pixels and thin banners, are rejected. Default 16. An image
    /// with a zero side is always rejected.
    public var minimumSide: Int = 16

    /// Colour that transparent PNG pixels are composited onto. Default white,
    /// so that a cut-out subject appears on a plain light background.
    public var background: RGBColor = .white

    /// Whether to rotate and mirror JPEGs by their EXIF Orientation tag, as
    /// photo viewers do. Default true.
    public var appliesExifOrientation: Bool = true

    /// Smallest output size that the caller needs, or nil for full size.
    /// JPEGs may then be decoded at n/8 scale (libjpeg DCT scaling), which is
    /// several times faster for large photos that will be downscaled anyway.
    /// PNGs always decode at full size.
    public var minimumOutputSize: MinimumOutputSize? = nil

    /// The size that a scaled decode must keep, as a lower bound on the
    /// shorter side, the longer side, or both.
    public struct MinimumOutputSize: Sendable, Equatable {
        public var shorterSide: Int
        public var longerSide: Int

        public init(shorterSide: Int = 0, longerSide: Int = 0) {
            self.shorterSide = shorterSide
            self.longerSide = longerSide
        }
    }

    public init(
        maximumPixels: Int = 50_000_000, minimumSide: Int = 16, background: RGBColor = .white,
        appliesExifOrientation: Bool = true, minimumOutputSize: MinimumOutputSize? = nil
    ) {
        self.maximumPixels = maximumPixels
        self.minimumSide = minimumSide
        self.background = background
        self.appliesExifOrientation = appliesExifOrientation
        self.minimumOutputSize = minimumOutputSize
    }
}
