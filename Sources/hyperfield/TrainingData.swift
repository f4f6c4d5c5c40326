import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// Glue from image folders to the in-memory training sets of the diffusion
/// module.
enum TrainingData {
    /// Class tokens of the denoiser, in token order.
    static let classes: [SubjectClass] = [.face, .cat, .dog]

    static func classIndex(_ label: SubjectClass) -> Int {
        classes.firstIndex(of: label)!
    }

    /// Parses a class name (`face`, `cat`, `dog`).
    static func classIndex(named name: String) -> Int? {
        classes.firstIndex { $0.rawValue == name.lowercased() }
    }

    /// Returns the shared photographs' folder: `--data` when given, else
    /// `HYPERFIELD_DATA`, else `../shared/data` next to the working folder.
    static func dataRoot(_ given: String?) -> URL {
        if let given, !given.isEmpty { return URL(fileURLWithPath: given, isDirectory: true) }
        let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        return SharedDataCatalog.defaultRoot(repositoryRoot: here)
    }

    /// Returns the catalog of the shared photographs at `given` (or the
    /// default root), after checking that LFW, DogFaceNet and the cat faces,
    /// which the held-out evaluations read, are present.
    static func evaluationCatalog(_ given: String?, logger: Logger) throws -> SharedDataCatalog {
        let root = dataRoot(given)
        let catalog = SharedDataCatalog(root: root, log: logger.info)
        for source in [SharedDataSource.lfw, .dogFaceNet, .catFaces] where !catalog.isAvailable(source) {
            throw RuntimeError("\(root.appendingPathComponent(source.imageFolder).path) not found; pass --data DIR or set HYPERFIELD_DATA to the folder of the shared photographs")
        }
        return catalog
    }

    /// Loads the training split of `sources` at `resolution`: held-out
    /// identities are never included.
    static func loadTrainingSubjects(
        root: URL, sources: [SharedDataSource], resolution: Int, log: @escaping ImageIOLog
    ) throws -> SubjectDataset {
        let catalog = SharedDataCatalog(root: root, log: log)
        let listings = try catalog.trainingSubjects(of: sources)
        var preparation = ImagePreparation()
        preparation.resolution = resolution
        return try SubjectDataset.load(listings, preparation: preparation, log: log)
    }

    /// Images as `[3, R, R]` samples in `[-1, 1]`, one subject per dataset
    /// subject.
    static func imageSamples(_ dataset: SubjectDataset) -> LabeledSamples {
        var samples = LabeledSamples(sampleShape: [3, dataset.resolution, dataset.resolution])
        for (subjectIndex, subject) in dataset.subjects.enumerated() {
            for image in subject.images {
                samples.append(image.tensor().data, classIndex: classIndex(subject.classLabel), subject: subjectIndex)
            }
        }
        return samples
    }

    /// Normalized latents of every image and of its mirror image, encoded in
    /// batches, with their subjects and classes.
    static func latentSamples(
        _ dataset: SubjectDataset, autoencoder: Autoencoder, normalization: LatentNormalization,
        progress: (Int, Int) -> Void
    ) -> LabeledSamples {
        let c = autoencoder.configuration
        var samples = LabeledSamples(sampleShape: [c.latentChannels, c.latentSize, c.latentSize])
        var pending: [(pixels: [Float], classIndex: Int, subject: Int)] = []
        let total = dataset.imageCount * 2
        var done = 0

        func flush() {
            guard !pending.isEmpty else { return }
            let batch = Tensor(
                shape: [pending.count, 3, c.imageSize, c.imageSize], data: pending.flatMap { $0.pixels })
            let latents = GradMode.withoutGradients { normalization.normalize(autoencoder.encode(batch)) }
            let size = latents.count / pending.count
            for (index, item) in pending.enumerated() {
                samples.append(
                    Array(latents.data[(index * size)..<((index + 1) * size)]),
                    classIndex: item.classIndex, subject: item.subject)
            }
            done += pending.count
            progress(done, total)
            pending.removeAll(keepingCapacity: true)
        }

        for (subjectIndex, subject) in dataset.subjects.enumerated() {
            for image in subject.images {
                let classIndex = classIndex(subject.classLabel)
                pending.append((image.tensor().data, classIndex, subjectIndex))
                pending.append((image.flippedHorizontally().tensor().data, classIndex, subjectIndex))
                if pending.count >= 64 { flush() }
            }
        }
        flush()
        return samples
    }

    /// Normalized latents of the dataset and its mirror images, read from
    /// out/cache when an earlier run with the same autoencoder and data
    /// wrote them.
    static func cachedLatents(
        _ dataset: SubjectDataset, autoencoder: Autoencoder, normalization: LatentNormalization, key: String,
        logger: Logger
    ) throws -> LabeledSamples {
        let url = URL(fileURLWithPath: "out/cache/latents-\(key).safetensors")
        if let file = try? SafeTensors.read(contentsOf: url),
           let values = file["latents"], let classes = file["classes"], let subjects = file["subjects"] {
            var samples = LabeledSamples(sampleShape: Array(values.shape.dropFirst()))
            let size = samples.sampleSize
            for index in 0..<values.shape[0] {
                samples.append(
                    Array(values.data[(index * size)..<((index + 1) * size)]),
                    classIndex: Int(classes.data[index]), subject: Int(subjects.data[index]))
            }
            logger.info("read \(samples.count) cached latents from \(url.path)")
            return samples
        }

        let progress = ProgressReporter(label: "encode", total: dataset.imageCount * 2, unit: "images")
        let samples = TrainingData.latentSamples(dataset, autoencoder: autoencoder, normalization: normalization) { done, _ in
            progress.update(completed: done)
        }
        progress.finish()
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try SafeTensors.write([
            ("latents", Tensor(shape: [samples.count] + samples.sampleShape, data: samples.values)),
            ("classes", Tensor(shape: [samples.count], data: samples.classes.map(Float.init))),
            ("subjects", Tensor(shape: [samples.count], data: samples.subjects.map(Float.init))),
        ], to: url)
        logger.info("cached \(samples.count) latents in \(url.path)")
        return samples
    }
}

extension TrainingData {
    /// Subjects for the field: the latents of each dataset subject (images
    /// and mirror images), at most 16 per subject.
    static func subjectLatents(_ latents: LabeledSamples, dataset: SubjectDataset) -> [SubjectLatents] {
        var indicesOfSubject: [Int: [Int]] = [:]
        for index in 0..<latents.count { indicesOfSubject[latents.subjects[index], default: []].append(index) }
        return indicesOfSubject.keys.sorted().map { subject in
            let indices = Array(indicesOfSubject[subject]!.prefix(16))
            let values = indices.flatMap { latents.sample($0) }
            return SubjectLatents(
                id: dataset.subjects[subject].id,
                latents: Tensor(shape: [indices.count] + latents.sampleShape, data: values),
                classIndex: latents.classes[indices[0]])
        }
    }
}

extension TrainingData {
    /// Loads the training subjects of every source as latents, for the field
    /// and the regression hypernetwork. Returns them with the SHA-256 of the
    /// data manifest, which is written where `manifestURL(forModel:)` says.
    static func trainingSubjectLatents(
        root: URL, base: BaseModels, autoencoderHash: String, modelPath: String, logger: Logger
    ) throws -> (subjects: [SubjectLatents], manifestHash: String) {
        logger.info("loading the training split from \(root.path)")
        let dataset = try loadTrainingSubjects(
            root: root, sources: SharedDataSource.allCases, resolution: base.autoencoder.configuration.imageSize, log: logger.info)
        let manifestURL = manifestURL(forModel: modelPath)
        try FileManager.default.createDirectory(at: manifestURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let manifestHash = try dataset.manifest.write(to: manifestURL)
        let latents = try cachedLatents(
            dataset, autoencoder: base.autoencoder, normalization: base.normalization,
            key: "\(autoencoderHash.prefix(16))-\(manifestHash.prefix(16))", logger: logger)
        let subjects = subjectLatents(latents, dataset: dataset)
        logger.info("\(subjects.count) training subjects (\(subjects.filter { $0.imageCount > 2 }.count) with several images)")
        return (subjects, manifestHash)
    }
}

extension TrainingData {
    /// Returns the shared data folder after checking that it exists.
    static func existingDataRoot(_ given: String?) throws -> URL {
        let root = dataRoot(given)
        guard FileManager.default.fileExists(atPath: root.path) else {
            throw RuntimeError("data folder \(root.path) not found; pass --data DIR or set HYPERFIELD_DATA to the folder of the shared photographs")
        }
        return root
    }
}
