import Foundation

/// A collection of real photographs in the shared data folder.
public enum SharedDataSource: String, Sendable, CaseIterable {
    /// Labeled Faces in the Wild: `lfw/faces_160/<Person>/<Person>_NNNN.jpg`.
    case lfw
    /// DogFaceNet: `dogfacenet/faces_224/<dog_id>/<dog_id>.<n>.jpg`.
    case dogFaceNet = "dogfacenet"
    /// Cat faces without identities: `cat_faces/faces_128/<n>.jpg`, so each
    /// image is its own subject.
    case catFaces = "cat_faces"
    /// AT&T (ORL) grey faces: `orl/faces_png/s<N>/<k>.png`.
    case orl

    /// Folder of the images, relative to the data root.
    public var imageFolder: String {
        switch self {
        case .lfw: return "lfw/faces_160"
        case .dogFaceNet: return "dogfacenet/faces_224"
        case .catFaces: return "cat_faces/faces_128"
        case .orl: return "orl/faces_png"
        }
    }

    public var classLabel: SubjectClass {
        switch self {
        case .lfw, .orl: return .face
        case .dogFaceNet: return .dog
        case .catFaces: return .cat
        }
    }

    /// Whether subjects are folders of images of one identity, rather than
    /// single images.
    public var hasIdentities: Bool {
        self != .catFaces
    }

    /// File of identities held out from every training split, relative to
    /// the data root, or nil when the source has none.
    public var heldOutListPath: String? {
        switch self {
        case .lfw: return "splits/lfw_heldout_ids.txt"
        case .dogFaceNet: return "splits/dogfacenet_heldout_ids.txt"
        case .catFaces, .orl: return nil
        }
    }
}

/// A selection of the subjects of a source by held-out status.
public enum DataSplit: String, Sendable {
    /// Every subject except the held-out identities.
    case training
    /// Only the held-out identities, for evaluating personalization on
    /// people and dogs that no training split contains.
    case heldOut
    /// Every subject.
    case all
}

/// Loaders for the shared folder of real photographs: LFW, DogFaceNet, cat
/// faces and ORL, with their held-out identity lists.
public struct SharedDataCatalog: Sendable {
    /// Environment variable that overrides the default data root.
    public static let environmentVariable = "HYPERFIELD_DATA"

    /// Returns the data root: `$HYPERFIELD_DATA` when set and not empty, otherwise
    /// `../shared/data` relative to `repositoryRoot`.
    public static func defaultRoot(
        repositoryRoot: URL, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> URL {
        if let override = environment[environmentVariable], !override.isEmpty {
            return URL(fileURLWithPath: override, isDirectory: true)
        }
        return repositoryRoot.appendingPathComponent("../shared/data", isDirectory: true).standardizedFileURL
    }

    /// Folder that contains `lfw`, `dogfacenet`, `cat_faces`, `orl` and `splits`.
    public let root: URL
    public var log: ImageIOLog

    public init(root: URL, log: @escaping ImageIOLog = standardErrorLog) {
        self.root = root
        self.log = log
    }

    /// Returns whether the image folder of `source` exists under `root`.
    public func isAvailable(_ source: SharedDataSource) -> Bool {
        var isDirectory: ObjCBool = false
        let path = root.appendingPathComponent(source.imageFolder).path
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// Lists the training subjects of `sources`: every subject minus the
    /// held-out identities.
    public func trainingSubjects(of sources: [SharedDataSource] = SharedDataSource.allCases) throws -> [SubjectListing] {
        try sources.flatMap { try subjects(of: $0, split: .training) }
    }

    /// Lists the held-out subjects of `sources`. Sources without a held-out
    /// list contribute none.
    public func heldOutSubjects(of sources: [SharedDataSource] = [.lfw, .dogFaceNet]) throws -> [SubjectListing] {
        try sources.flatMap { try subjects(of: $0, split: .heldOut) }
    }

    /// Lists the subjects of one source in `split`, in sorted order. Subject names
    /// are the identity folder names (or file names for cat faces), and ids
    /// are "<source>/<name>". Manifest paths are relative to `root`.
    public func subjects(of source: SharedDataSource, split: DataSplit) throws -> [SubjectListing] {
        let folder = root.appendingPathComponent(source.imageFolder, isDirectory: true)
        guard isAvailable(source) else {
            throw ImageIOError(
                .missingData, path: folder.path,
                problem: "the \(source.rawValue) images are not there (expected \(source.imageFolder) under the data root)")
        }
        let layout: DatasetLayout = source.hasIdentities ? .subjectFolders(source.classLabel) : .flat(source.classLabel)
        let all = try DatasetFolder.listSubjects(in: folder, layout: layout, collection: source.rawValue, log: log)
            .map { listing in
                SubjectListing(
                    collection: listing.collection, name: listing.name, classLabel: listing.classLabel,
                    files: listing.files, root: root)
            }
        if split == .all { return all }

        let heldOut = try heldOutIdentities(of: source)
        let present = Set(all.map(\.name))
        let missing = heldOut.subtracting(present)
        if !missing.isEmpty {
            log(
                "held-out list of \(source.rawValue) names \(missing.count) identities that have no images under "
                    + "\(folder.path), for example \(missing.sorted().prefix(3).joined(separator: ", "))")
        }
        switch split {
        case .training: return all.filter { !heldOut.contains($0.name) }
        case .heldOut: return all.filter { heldOut.contains($0.name) }
        case .all: return all
        }
    }

    /// Reads the identities held out from training, one per line in the split file.
    /// Blank lines and surrounding spaces are ignored. Empty for sources
    /// without a held-out list.
    public func heldOutIdentities(of source: SharedDataSource) throws -> Set<String> {
        guard let relativePath = source.heldOutListPath else { return [] }
        let file = root.appendingPathComponent(relativePath)
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw ImageIOError(
                .missingData, path: file.path,
                problem: "cannot read the held-out identity list of \(source.rawValue); without it, training would "
                    + "include the evaluation identities")
        }
        let identities = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        return Set(identities)
    }
}
