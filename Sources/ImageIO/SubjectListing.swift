import Foundation

/// The image files of one subject, found on disk but not yet decoded.
public struct SubjectListing: Sendable, Equatable {
    /// Name of the collection the subject belongs to, such as "lfw" or the
    /// dataset folder's name.
    public let collection: String
    /// The subject's name within the collection: its folder name, or the file
    /// name when each image is its own subject.
    public let name: String
    public let classLabel: SubjectClass
    /// Image files in sorted order. Each is PNG or JPEG by content.
    public let files: [URL]
    /// Folder that manifest paths are relative to.
    public let root: URL

    public init(collection: String, name: String, classLabel: SubjectClass, files: [URL], root: URL) {
        self.collection = collection
        self.name = name
        self.classLabel = classLabel
        self.files = files
        self.root = root
    }

    /// Identifier that is unique across collections: "collection/name".
    public var id: String { "\(collection)/\(name)" }

    /// Path of `file` relative to `root`, or its full path when it lies
    /// outside `root`.
    public func relativePath(of file: URL) -> String {
        let rootPath = root.standardizedFileURL.path
        let filePath = file.standardizedFileURL.path
        let prefix = rootPath.hasSuffix("/") ? rootPath : rootPath + "/"
        return filePath.hasPrefix(prefix) ? String(filePath.dropFirst(prefix.count)) : filePath
    }
}
