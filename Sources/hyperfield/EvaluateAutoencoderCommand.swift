import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import TensorCore

/// `hyperfield evaluate-autoencoder`: reconstruction quality on held-out
/// identities.
struct EvaluateAutoencoderCommand: Command {
    let name = "evaluate-autoencoder"
    let summary = "measure the autoencoder's reconstruction PSNR on held-out identities"
    let description = """
        Encodes and decodes the photographs of the held-out LFW people and \
        DogFaceNet dogs (never seen in training) and reports the peak \
        signal-to-noise ratio of the 8-bit reconstructions, per source and \
        overall (the mean of per-image PSNR). Optionally writes a grid of \
        originals above their reconstructions.

          hyperfield evaluate-autoencoder --grid docs/reconstructions.png
        """

    let autoencoderPath = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "autoencoder to evaluate")
    let data = Option.path("data", help: "folder of the shared photographs (default: $HYPERFIELD_DATA, else ../shared/data)").optional()
    let limit = Option.integer("limit", default: 1000, unit: "images", minimum: 1, help: "most images evaluated per source (evenly spread)")
    let grid = Option.path("grid", help: "write originals and reconstructions of 8 images per source to this PNG").optional()
    let json = Option.json
    var options: [any CommandOption] { [autoencoderPath, data, limit, grid, json] }

    struct Report: Encodable {
        let autoencoder: String
        let psnr: Double
        let imageCount: Int
        let perSource: [String: Double]
        enum CodingKeys: String, CodingKey {
            case autoencoder, psnr
            case imageCount = "image_count"
            case perSource = "per_source_psnr"
        }
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        let (autoencoder, _, _) = try BaseModels.loadAutoencoder(arguments[autoencoderPath], requireNormalization: false)
        let root = TrainingData.dataRoot(arguments[data])
        let catalog = SharedDataCatalog(root: root, log: logger.info)
        var preparation = ImagePreparation()
        preparation.resolution = autoencoder.configuration.imageSize

        var perSource: [String: Double] = [:]
        var all: [Double] = []
        var gridImages: [RGBImage] = []
        var gridLabels: [String] = []
        for source in [SharedDataSource.lfw, .dogFaceNet] {
            let listings = try catalog.heldOutSubjects(of: [source])
            let dataset = try SubjectDataset.load(listings, preparation: preparation, log: logger.info)
            let images = dataset.subjects.flatMap { $0.images }
            let picked = stride(from: 0, to: images.count, by: max(1, images.count / arguments[limit])).map { images[$0] }
            var scores: [Double] = []
            var reconstructed: [RGBImage] = []
            for start in stride(from: 0, to: picked.count, by: 32) {
                let batch = Array(picked[start..<min(start + 32, picked.count)])
                let output = GradMode.withoutGradients { autoencoder.decode(autoencoder.encode(batchTensor(batch))) }
                let decoded = try splitImages(output)
                for (original, copy) in zip(batch, decoded) { scores.append(psnr(original, copy)) }
                if reconstructed.count < 8 { reconstructed += decoded.prefix(8 - reconstructed.count) }
            }
            let mean = scores.reduce(0, +) / Double(max(scores.count, 1))
            perSource[source.rawValue] = mean
            all += scores
            logger.info(String(format: "%@: %d held-out images, mean PSNR %.2f dB", source.rawValue, scores.count, mean))
            gridImages += picked.prefix(8) + reconstructed.prefix(8)
            gridLabels += ["\(source.rawValue) original", "\(source.rawValue) reconstruction"]
        }

        let overall = all.reduce(0, +) / Double(max(all.count, 1))
        if let gridPath = arguments[grid] {
            let url = URL(fileURLWithPath: gridPath)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try ImageGrid(columns: 8).writePNG(gridImages, rowLabels: gridLabels, to: url)
            logger.info("wrote \(url.path)")
        }
        let report = Report(autoencoder: arguments[autoencoderPath], psnr: overall, imageCount: all.count, perSource: perSource)
        if arguments[json] {
            try JSONOutput.write(report)
        } else {
            print(String(format: "PSNR on %d held-out images: %.2f dB", all.count, overall))
        }
    }
}

/// Splits a `[B, 3, R, R]` tensor in `[-1, 1]` into 8-bit images.
func splitImages(_ batch: Tensor) throws -> [RGBImage] {
    let perImage = batch.count / batch.shape[0]
    return try (0..<batch.shape[0]).map { index in
        try RGBImage(tensor: Tensor(
            shape: Array(batch.shape.dropFirst()),
            data: Array(batch.data[(index * perImage)..<((index + 1) * perImage)])))
    }
}

/// Peak signal-to-noise ratio of two 8-bit images, in dB (peak 255).
func psnr(_ a: RGBImage, _ b: RGBImage) -> Double {
    var squares = 0.0
    for (x, y) in zip(a.pixels, b.pixels) {
        let d = Double(x) - Double(y)
        squares += d * d
    }
    let mse = max(squares / Double(a.pixels.count), 1e-10)
    return 10 * log10(255 * 255 / mse)
}
