import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// A user's subject folder, decoded and encoded to latents.
struct SubjectFolder {
    let latents: SubjectLatents
    let images: [RGBImage]
    /// SHA-256 of each image file, in listing order.
    let fileHashes: [String]
    let folder: URL

    /// Loads the images of `path` (skipping non-images with a log line),
    /// prepares them at the autoencoder's resolution and encodes them.
    static func load(
        _ path: String, classIndex: Int, autoencoder: Autoencoder, normalization: LatentNormalization, logger: Logger
    ) throws -> SubjectFolder {
        let folder = URL(fileURLWithPath: path, isDirectory: true)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw RuntimeError("subject folder \(folder.path) does not exist or is not a folder; pass --images DIR with a few photographs of one subject")
        }
        let listing = try DatasetFolder.listSubject(
            in: folder, classLabel: TrainingData.classes[classIndex], log: logger.info)
        var preparation = ImagePreparation()
        preparation.resolution = autoencoder.configuration.imageSize
        let dataset = try SubjectDataset.load([listing], preparation: preparation, log: logger.info)
        guard let subject = dataset.subjects.first else {
            throw RuntimeError("no image in \(folder.path) could be decoded; add PNG or JPEG photographs of the subject")
        }
        let batch = batchTensor(subject.images)
        let encoded = GradMode.withoutGradients { normalization.normalize(autoencoder.encode(batch)) }
        return SubjectFolder(
            latents: SubjectLatents(id: folder.lastPathComponent, latents: encoded, classIndex: classIndex),
            images: subject.images, fileHashes: dataset.manifest.entries.map { $0.sha256 }, folder: folder)
    }
}
