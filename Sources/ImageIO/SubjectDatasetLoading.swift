import Foundation

extension SubjectDataset {
    /// Decodes and prepares every file of `listings` on up to
    /// `Threading.threadCount` threads, hashing each file for the manifest.
    ///
    /// A file that fails to decode is skipped with a log line that names it
    /// and the reason. A subject whose files all fail is skipped with a log
    /// line. Throws when no subject is left; with a single listing, the error
    /// names that subject's folder.
    public static func load(
        _ listings: [SubjectListing], preparation: ImagePreparation = ImagePreparation(),
        log: ImageIOLog = standardErrorLog
    ) throws -> SubjectDataset {
        let files = listings.enumerated().flatMap { subject, listing in
            listing.files.map { (subject: subject, url: $0) }
        }
        let outcomes = parallelMap(count: files.count) { index in
            loadFile(files[index].url, preparation: preparation)
        }

        var subjects: [Subject] = []
        var entries: [DatasetManifest.Entry] = []
        var failuresOfLastSubject: [ImageIOError] = []
        var fileIndex = 0
        for listing in listings {
            var images: [RGBImage] = []
            var loadedFiles: [URL] = []
            var failures: [ImageIOError] = []
            for file in listing.files {
                defer { fileIndex += 1 }
                switch outcomes[fileIndex] {
                case .success(let loaded):
                    images.append(loaded.image)
                    loadedFiles.append(file)
                    entries.append(
                        DatasetManifest.Entry(
                            subject: listing.id, classLabel: listing.classLabel, file: listing.relativePath(of: file),
                            byteCount: loaded.byteCount, width: loaded.sourceWidth, height: loaded.sourceHeight,
                            sha256: loaded.sha256))
                case .failure(let error):
                    failures.append(error)
                    log("skipped \(error.path): \(error.problem)")
                }
            }
            guard !images.isEmpty else {
                log("skipped subject \(listing.id): none of its \(listing.files.count) image files decoded")
                failuresOfLastSubject = failures
                continue
            }
            subjects.append(Subject(id: listing.id, classLabel: listing.classLabel, images: images, files: loadedFiles))
        }

        guard !subjects.isEmpty else {
            throw noSubjectsError(listings, failures: failuresOfLastSubject)
        }
        return SubjectDataset(
            resolution: preparation.resolution, subjects: subjects, manifest: DatasetManifest(entries: entries))
    }

    /// Builds a dataset from subjects that are already prepared. Every image
    /// must be `resolution` x `resolution`.
    public init(resolution: Int, subjects: [Subject], manifest: DatasetManifest) {
        for subject in subjects {
            precondition(!subject.images.isEmpty, "SubjectDataset: subject \(subject.id) has no images")
            for image in subject.images {
                precondition(
                    image.width == resolution && image.height == resolution,
                    "SubjectDataset: subject \(subject.id) has a \(image.width)x\(image.height) image, expected \(resolution)x\(resolution)")
            }
        }
        self.resolution = resolution
        self.subjects = subjects
        self.manifest = manifest
        var indicesByClass: [SubjectClass: [Int]] = [:]
        for (index, subject) in subjects.enumerated() {
            indicesByClass[subject.classLabel, default: []].append(index)
        }
        self.subjectIndicesByClass = indicesByClass
    }

    private struct LoadedFile: Sendable {
        let image: RGBImage
        let byteCount: Int
        let sourceWidth: Int
        let sourceHeight: Int
        let sha256: String
    }

    private static func loadFile(_ url: URL, preparation: ImagePreparation) -> Result<LoadedFile, ImageIOError> {
        do {
            let bytes = try readFileBytes(url)
            let (image, source) = try preparation.load(bytes, path: url.path)
            return .success(
                LoadedFile(
                    image: image, byteCount: bytes.count, sourceWidth: source.sourceWidth,
                    sourceHeight: source.sourceHeight, sha256: SHA256.hexDigest(of: bytes)))
        } catch let error as ImageIOError {
            return .failure(error)
        } catch {
            return .failure(ImageIOError(.unreadable, path: url.path, problem: "\(error)"))
        }
    }

    private static func noSubjectsError(_ listings: [SubjectListing], failures: [ImageIOError]) -> ImageIOError {
        if listings.count == 1, let listing = listings.first {
            let folder = listing.files.first?.deletingLastPathComponent().path ?? listing.id
            let firstReason = failures.first.map { ": the first failure is \($0.problem)" } ?? ""
            return ImageIOError(
                .noDecodableImages, path: folder,
                problem: "none of the \(listing.files.count) image files of subject \(listing.id) decoded\(firstReason)")
        }
        if listings.isEmpty {
            return ImageIOError(.emptyFolder, path: "<dataset>", problem: "no subjects were given")
        }
        return ImageIOError(
            .noDecodableImages, path: "<dataset>",
            problem: "none of the \(listings.count) subjects has an image that decoded (the log names each file)")
    }
}
