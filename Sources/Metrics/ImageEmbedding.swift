import Foundation
import ImageIO
import TensorCore

extension FeatureNet {
    /// Computes the embeddings `[N, embeddingWidth]` of `images`, unit rows,
    /// in batches of `batchSize` without a tape. Images of another size are
    /// resized to the net's input side first.
    public func embeddings(of images: [RGBImage], batchSize: Int = 64) -> Tensor {
        precondition(!images.isEmpty, "FeatureNet.embeddings: no images")
        let side = configuration.imageSize
        var rows: [Float] = []
        rows.reserveCapacity(images.count * configuration.embeddingWidth)
        for start in stride(from: 0, to: images.count, by: max(batchSize, 1)) {
            let batch = images[start..<min(start + batchSize, images.count)].map { image in
                image.width == side && image.height == side ? image : image.resized(side: side)
            }
            let embedded = GradMode.withoutGradients { embed(batchTensor(batch)) }
            rows += embedded.data
        }
        return Tensor(shape: [images.count, configuration.embeddingWidth], data: rows)
    }
}

/// The images of one folder, prepared as a feature net's input.
public struct ImageFolderContents: Sendable {
    public let folder: URL
    /// Prepared `resolution` x `resolution` images, in the sorted order of
    /// their files.
    public let images: [RGBImage]
    /// File of each image.
    public let files: [URL]

    /// Loads the PNG and JPEG images directly inside `folder`, center-cropped
    /// and resized to `resolution`. Hidden files, other files, subfolders and
    /// images that fail to decode are skipped with a log line.
    ///
    /// - Throws: `ImageIOError` when the folder does not exist, contains no
    ///   image (`emptyFolder`), or none of its images decodes
    ///   (`noDecodableImages`). The message names the folder.
    public static func load(_ folder: URL, resolution: Int, log: @escaping ImageIOLog = standardErrorLog) throws -> ImageFolderContents {
        let listing = try DatasetFolder.listSubject(in: folder, classLabel: .face, collection: "folder", log: log)
        let dataset = try SubjectDataset.load([listing], preparation: ImagePreparation(resolution: resolution), log: log)
        let subject = dataset.subjects[0]
        return ImageFolderContents(folder: folder, images: subject.images, files: subject.files)
    }
}
