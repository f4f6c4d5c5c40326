/// An image I/O failure. The description names the file or folder, the
/// problem and what to do about it, so callers can show it to users as is.
public struct ImageIOError: Error, CustomStringConvertible, Sendable {
    /// The category of failure, for callers and tests that branch on it.
    public enum Kind: String, Sendable {
        /// The file could not be read from disk.
        case unreadable
        /// The file is empty, or its content is not an image.
        case notAnImage
        /// The content is an image in a format other than PNG and JPEG.
        case unsupportedFormat
        /// The PNG or JPEG data is truncated or corrupt.
        case corrupt
        /// The declared width or height is zero.
        case zeroSize
        /// The declared size exceeds `DecodeOptions.maximumPixels`.
        case tooLarge
        /// A side is shorter than `DecodeOptions.minimumSide`.
        case tooSmall
        /// Memory for the pixels could not be allocated.
        case outOfMemory
        /// libpng or libjpeg failed while encoding.
        case encodeFailed
        /// Writing or renaming the output file failed.
        case writeFailed
        /// A folder contains no images.
        case emptyFolder
        /// A folder contains image files but none of them decoded.
        case noDecodableImages
        /// A required data file or folder does not exist.
        case missingData
        /// A value passed by the caller is invalid.
        case invalidArgument
    }

    public let kind: Kind
    /// Path of the file or folder concerned, or a label such as "<memory>".
    public let path: String
    /// Description of the failure, a sentence fragment without the path.
    public let problem: String

    public init(_ kind: Kind, path: String, problem: String) {
        self.kind = kind
        self.path = path
        self.problem = problem
    }

    /// The action that resolves this kind of failure.
    public var fix: String {
        switch kind {
        case .unreadable:
            return "Check that the file exists and that this user can read it."
        case .notAnImage:
            return "Replace it with a PNG or JPEG image, or remove it from the folder."
        case .unsupportedFormat:
            return "Convert it to PNG or JPEG, or remove it from the folder."
        case .corrupt:
            return "Re-export or download the image again, or remove it from the folder."
        case .zeroSize:
            return "Re-export the image, or remove it from the folder."
        case .tooLarge:
            return "Downscale the image, or raise DecodeOptions.maximumPixels if the file is trusted."
        case .tooSmall:
            return "Use a larger image, or lower DecodeOptions.minimumSide."
        case .outOfMemory:
            return "Free memory, or lower DecodeOptions.maximumPixels."
        case .encodeFailed:
            return "This is a bug in HyperField's image encoder; report it with the image size."
        case .writeFailed:
            return "Check that the folder exists, is writable and has free space."
        case .emptyFolder:
            return "Add PNG or JPEG images of the subject to the folder."
        case .noDecodableImages:
            return "Replace the files named in the log with valid PNG or JPEG images."
        case .missingData:
            return "Check the path: a relative path starts at the current folder. The shared photographs are found through --data or HYPERFIELD_DATA."
        case .invalidArgument:
            return "Pass a valid value."
        }
    }

    public var description: String {
        "\(path): \(problem). \(fix)"
    }
}
