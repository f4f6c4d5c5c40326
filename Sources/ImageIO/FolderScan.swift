import Foundation

/// The entries of one folder, sorted by name and sorted into images,
/// subfolders, skipped non-image entries and rejected files.
///
/// A file counts as an image when its first bytes are a PNG or JPEG
/// signature, whatever its name. Hidden entries (names starting with "."),
/// operating-system files and files that are neither images nor named like
/// images (captions, notes) are skipped without a reason. A file named like
/// an image whose content is not PNG or JPEG is rejected with a reason.
struct FolderScan {
    var imageFiles: [URL] = []
    var subfolders: [URL] = []
    /// Names of skipped entries; folders end in "/".
    var skippedNames: [String] = []
    var rejectedFiles: [ImageIOError] = []

    /// File extensions of image formats. A file with one of these extensions
    /// whose content is not PNG or JPEG is reported, because the user meant
    /// it to be an image.
    static let imageExtensions: Set<String> = [
        "jpg", "jpeg", "jpe", "jfif", "png", "gif", "bmp", "webp", "tif", "tiff", "heic", "heif", "avif",
    ]

    /// Files and folders that file managers and archivers create, compared
    /// in lower case. Hidden names starting with "." are skipped separately.
    static let systemEntryNames: Set<String> = ["thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r", "__macosx"]

    /// Lists `folder`. Throws when it does not exist, is not a folder or
    /// cannot be read.
    static func scan(_ folder: URL) throws -> FolderScan {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory) else {
            throw ImageIOError(.missingData, path: folder.path, problem: "the folder does not exist")
        }
        guard isDirectory.boolValue else {
            throw ImageIOError(.invalidArgument, path: folder.path, problem: "expected a folder, found a file")
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        } catch {
            throw ImageIOError(.unreadable, path: folder.path, problem: "cannot list the folder (\(error.localizedDescription))")
        }

        var scan = FolderScan()
        for name in names {
            let entry = folder.appendingPathComponent(name)
            var entryIsDirectory: ObjCBool = false
            // fileExists follows symbolic links; a dangling link is skipped.
            let exists = FileManager.default.fileExists(atPath: entry.path, isDirectory: &entryIsDirectory)
            let displayName = entryIsDirectory.boolValue ? name + "/" : name
            if !exists || name.hasPrefix(".") || systemEntryNames.contains(name.lowercased()) {
                scan.skippedNames.append(displayName)
            } else if entryIsDirectory.boolValue {
                scan.subfolders.append(entry)
            } else {
                scan.classifyFile(entry)
            }
        }
        return scan
    }

    private mutating func classifyFile(_ file: URL) {
        let hasImageExtension = Self.imageExtensions.contains(file.pathExtension.lowercased())
        let leading: [UInt8]
        do {
            leading = try readLeadingBytes(file, count: ImageFormat.signatureLength)
        } catch let error as ImageIOError {
            rejectedFiles.append(error)
            return
        } catch {
            rejectedFiles.append(ImageIOError(.unreadable, path: file.path, problem: "\(error)"))
            return
        }

        let format = ImageFormat.detect(leading)
        if let format, format.isDecodable {
            imageFiles.append(file)
        } else if let format {
            rejectedFiles.append(
                ImageIOError(
                    .unsupportedFormat, path: file.path,
                    problem: "the content is a \(format.rawValue) image, which is not supported"))
        } else if hasImageExtension {
            let problem =
                leading.isEmpty
                ? "the file is empty"
                : "the content is not a PNG or JPEG image (it starts with \(describeLeadingBytes(leading)))"
            rejectedFiles.append(ImageIOError(.notAnImage, path: file.path, problem: problem))
        } else {
            skippedNames.append(file.lastPathComponent)
        }
    }
}

/// Reads up to `count` bytes from the start of `file`.
func readLeadingBytes(_ file: URL, count: Int) throws -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: file.path) else {
        throw ImageIOError(.unreadable, path: file.path, problem: "cannot open the file")
    }
    defer { try? handle.close() }
    do {
        return [UInt8](try handle.read(upToCount: count) ?? Data())
    } catch {
        throw ImageIOError(.unreadable, path: file.path, problem: "cannot read the file (\(error.localizedDescription))")
    }
}

/// Collects skipped entries across folders and logs them as one line.
struct SkippedEntrySummary {
    private(set) var count = 0
    private(set) var examples: [String] = []
    static let maximumExamples = 5

    mutating func add(_ names: [String], in folder: URL, relativeTo root: URL) {
        count += names.count
        let rootPath = root.standardizedFileURL.path
        let folderPath = folder.standardizedFileURL.path
        let prefix = folderPath == rootPath ? "" : String(folderPath.dropFirst(rootPath.count + 1)) + "/"
        for name in names where examples.count < Self.maximumExamples {
            examples.append(prefix + name)
        }
    }

    /// Logs one line when anything was skipped.
    func log(under root: URL, to log: ImageIOLog) {
        guard count > 0 else { return }
        let more = count > examples.count ? ", ..." : ""
        log(
            "skipped \(count) \(count == 1 ? "entry" : "entries") that \(count == 1 ? "is" : "are") not images "
                + "(hidden, system or other files) under \(root.path): \(examples.joined(separator: ", "))\(more)")
    }
}
