import Foundation

/// The mapping from the folders of a dataset to subjects and classes.
public enum DatasetLayout: Sendable, Equatable {
    /// Each subfolder is one subject of the given class. Images directly in
    /// the dataset folder are each their own subject.
    case subjectFolders(SubjectClass)
    /// Each image directly in the dataset folder is its own subject, as
    /// CelebA-HQ is used for face personalization. Subfolders are skipped.
    case flat(SubjectClass)
    /// Each subfolder is named after a class and contains single-image subjects
    /// of that class, as in AFHQ's `train/cat` and `train/dog`. Folders with
    /// other names, such as AFHQ's `wild`, are skipped with a log line.
    case classFolders
    /// `classFolders` when there are subfolders and every one is named after
    /// a class, `flat` when there are none, and `subjectFolders` otherwise.
    case automatic(SubjectClass)
}

/// Lists the subjects of dataset folders and single subject folders.
///
/// Listing reads only the first bytes of each file, to recognize PNG and
/// JPEG by content; `SubjectDataset.load` decodes the images. Entries that
/// are not images are counted in one log line. Files named like images but
/// with other content are logged one per line with the reason.
public enum DatasetFolder {
    /// Lists the subjects under `root`. `collection` names the dataset in
    /// subject identifiers and defaults to the folder name. Subject folders
    /// without images are skipped with a log line. Throws when the folder is
    /// missing or no subject has an image.
    public static func listSubjects(
        in root: URL, layout: DatasetLayout, collection: String? = nil, log: ImageIOLog = standardErrorLog
    ) throws -> [SubjectListing] {
        let collectionName = collection ?? root.lastPathComponent
        let rootScan = try FolderScan.scan(root)
        var skipped = SkippedEntrySummary()
        skipped.add(rootScan.skippedNames, in: root, relativeTo: root)
        var rejectedCount = rootScan.rejectedFiles.count
        logRejected(rootScan.rejectedFiles, to: log)

        var subjects: [SubjectListing] = []
        switch resolve(layout, scan: rootScan) {
        case .subjectFolders(let classLabel):
            for folder in rootScan.subfolders {
                let scan = try FolderScan.scan(folder)
                skipped.add(scan.skippedNames + scan.subfolders.map { $0.lastPathComponent + "/" }, in: folder, relativeTo: root)
                rejectedCount += scan.rejectedFiles.count
                logRejected(scan.rejectedFiles, to: log)
                guard !scan.imageFiles.isEmpty else {
                    log("skipped subject folder \(folder.path): it contains no PNG or JPEG images")
                    continue
                }
                subjects.append(
                    SubjectListing(
                        collection: collectionName, name: folder.lastPathComponent, classLabel: classLabel,
                        files: scan.imageFiles, root: root))
            }
            subjects += singleImageSubjects(rootScan.imageFiles, collection: collectionName, classLabel: classLabel, root: root)

        case .flat(let classLabel):
            skipped.add(rootScan.subfolders.map { $0.lastPathComponent + "/" }, in: root, relativeTo: root)
            subjects = singleImageSubjects(rootScan.imageFiles, collection: collectionName, classLabel: classLabel, root: root)

        case .classFolders:
            if !rootScan.imageFiles.isEmpty {
                log(
                    "skipped \(rootScan.imageFiles.count) images directly in \(root.path): "
                        + "with class folders, images must be inside a folder named after their class")
            }
            for folder in rootScan.subfolders {
                guard let classLabel = SubjectClass(folderName: folder.lastPathComponent) else {
                    let known = SubjectClass.allCases.map(\.rawValue).joined(separator: ", ")
                    log("skipped folder \(folder.path): its name is not a class (\(known))")
                    continue
                }
                let scan = try FolderScan.scan(folder)
                skipped.add(scan.skippedNames + scan.subfolders.map { $0.lastPathComponent + "/" }, in: folder, relativeTo: root)
                rejectedCount += scan.rejectedFiles.count
                logRejected(scan.rejectedFiles, to: log)
                subjects += singleImageSubjects(
                    scan.imageFiles, collection: "\(collectionName)/\(folder.lastPathComponent)", classLabel: classLabel,
                    root: root)
            }
        }
        skipped.log(under: root, to: log)

        guard !subjects.isEmpty else {
            throw noImagesError(root, rejectedCount: rejectedCount)
        }
        return subjects
    }

    /// Lists one subject folder: its PNG and JPEG files, in sorted order.
    /// Subfolders and non-image entries are skipped. Throws when the folder
    /// is missing or has no image.
    public static func listSubject(
        in folder: URL, classLabel: SubjectClass, collection: String = "subject", log: ImageIOLog = standardErrorLog
    ) throws -> SubjectListing {
        let scan = try FolderScan.scan(folder)
        var skipped = SkippedEntrySummary()
        skipped.add(scan.skippedNames + scan.subfolders.map { $0.lastPathComponent + "/" }, in: folder, relativeTo: folder)
        skipped.log(under: folder, to: log)
        logRejected(scan.rejectedFiles, to: log)
        guard !scan.imageFiles.isEmpty else {
            throw noImagesError(folder, rejectedCount: scan.rejectedFiles.count)
        }
        return SubjectListing(
            collection: collection, name: folder.lastPathComponent, classLabel: classLabel, files: scan.imageFiles,
            root: folder.deletingLastPathComponent())
    }

    /// A layout with `.automatic` replaced by what it stands for.
    enum ResolvedLayout: Equatable {
        case subjectFolders(SubjectClass)
        case flat(SubjectClass)
        case classFolders
    }

    static func resolve(_ layout: DatasetLayout, scan: FolderScan) -> ResolvedLayout {
        switch layout {
        case .subjectFolders(let classLabel): return .subjectFolders(classLabel)
        case .flat(let classLabel): return .flat(classLabel)
        case .classFolders: return .classFolders
        case .automatic(let classLabel):
            if scan.subfolders.isEmpty { return .flat(classLabel) }
            let allNamedAfterClasses = scan.subfolders.allSatisfy { SubjectClass(folderName: $0.lastPathComponent) != nil }
            return allNamedAfterClasses ? .classFolders : .subjectFolders(classLabel)
        }
    }

    private static func singleImageSubjects(
        _ files: [URL], collection: String, classLabel: SubjectClass, root: URL
    ) -> [SubjectListing] {
        files.map { file in
            SubjectListing(
                collection: collection, name: file.lastPathComponent, classLabel: classLabel, files: [file], root: root)
        }
    }

    private static func logRejected(_ errors: [ImageIOError], to log: ImageIOLog) {
        for error in errors {
            log("skipped \(error.path): \(error.problem)")
        }
    }

    private static func noImagesError(_ folder: URL, rejectedCount: Int) -> ImageIOError {
        if rejectedCount > 0 {
            return ImageIOError(
                .noDecodableImages, path: folder.path,
                problem: "none of its \(rejectedCount) image files is a PNG or JPEG image (the log names each one)")
        }
        return ImageIOError(.emptyFolder, path: folder.path, problem: "the folder contains no PNG or JPEG images")
    }
}
