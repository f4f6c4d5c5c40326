import CommandLineKit
import Foundation
import ImageIO
import Metrics
import TensorCore

/// `hyperfield metrics`: CLIP-I and DINO scores of a folder of generated
/// images against a folder of reference images.
struct MetricsCommand: Command {
    let name = "metrics"
    let summary = "score identity preservation: CLIP-I and DINO of generated against reference images"
    let description = """
        Embeds every image of both folders with the CLIP-I-style and the \
        DINO-style feature nets and prints each score: the mean cosine \
        similarity over all (generated, reference) pairs, as DreamBooth \
        defines CLIP-I and DINO. A file in both folders pairs with itself \
        too, at cosine 1. Per-image scores follow: each generated \
        image's mean over the references, and each reference image's mean \
        over the generated images.

        Any folders of PNG or JPEG images work: images are center-cropped \
        and resized to the nets' input size, and other files, hidden files \
        and subfolders are skipped with a log line. A folder without a \
        decodable image is an error.

          hyperfield metrics --reference photos/ --generated samples/ --json
        """

    let reference = Option.path("reference", help: "folder of real images of the subject")
    let generated = Option.path("generated", help: "folder of generated images")
    let clipI = Option.path("clip-i", default: "models/clip-i.safetensors", help: "CLIP-I-style feature net")
    let dino = Option.path("dino", default: "models/dino.safetensors", help: "DINO-style feature net")
    let only = Option<FeatureNetChoice>.choice("net", help: "compute only this score (default: both)").optional()
    let threads = Option.integer("threads", default: 0, unit: "threads", minimum: 0, help: "threads for the engine's loops and products; 0 uses HYPERFIELD_THREADS or every core")
    let json = Option.json

    var options: [any CommandOption] { [reference, generated, clipI, dino, only, threads, json] }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        if arguments[threads] > 0 { Threading.setThreadCount(arguments[threads]) }
        let nets: [(choice: FeatureNetChoice, path: String)] = [(.clipI, arguments[clipI]), (.dino, arguments[dino])]
            .filter { arguments[only] == nil || arguments[only] == $0.0 }
        let loaded = try nets.map { try loadFeatureNet(from: URL(fileURLWithPath: $0.path)).net }

        // Each folder is prepared once per input size the nets take.
        var folders: [Int: (reference: ImageFolderContents, generated: ImageFolderContents)] = [:]
        for side in Set(loaded.map(\.configuration.imageSize)) {
            folders[side] = (
                try ImageFolderContents.load(URL(fileURLWithPath: arguments[reference]), resolution: side, log: logger.info),
                try ImageFolderContents.load(URL(fileURLWithPath: arguments[generated]), resolution: side, log: logger.info))
        }

        var scores: [(choice: FeatureNetChoice, path: String, similarity: PairwiseSimilarity)] = []
        for ((choice, path), net) in zip(nets, loaded) {
            let contents = folders[net.configuration.imageSize]!
            let similarity = PairwiseSimilarity(
                generated: net.embeddings(of: contents.generated.images),
                reference: net.embeddings(of: contents.reference.images))
            scores.append((choice, path, similarity))
        }

        let contents = folders.values.first!
        let report = MetricsReport(
            reference: contents.reference, generated: contents.generated,
            scores: scores.map { ($0.choice, $0.path, $0.similarity) })
        if arguments[json] {
            try JSONOutput.write(report)
        } else {
            report.printText()
        }
    }
}

/// Scores of one `metrics` run, printed as text or JSON.
struct MetricsReport: Encodable {
    struct Score: Encodable {
        /// "CLIP-I" or "DINO".
        let name: String
        let model: String
        let mean: Double
    }

    struct ImageScores: Encodable {
        let file: String
        /// Score name to the image's mean cosine against the other folder.
        let scores: [String: Double]
    }

    let referenceFolder: String
    let generatedFolder: String
    let pairs: Int
    let scores: [Score]
    let generatedImages: [ImageScores]
    let referenceImages: [ImageScores]

    enum CodingKeys: String, CodingKey {
        case referenceFolder = "reference_folder"
        case generatedFolder = "generated_folder"
        case pairs
        case scores
        case generatedImages = "generated_images"
        case referenceImages = "reference_images"
    }

    init(
        reference: ImageFolderContents, generated: ImageFolderContents,
        scores: [(choice: FeatureNetChoice, path: String, similarity: PairwiseSimilarity)]
    ) {
        referenceFolder = reference.folder.path
        generatedFolder = generated.folder.path
        pairs = reference.images.count * generated.images.count
        self.scores = scores.map { Score(name: $0.choice.objective.scoreName, model: $0.path, mean: $0.similarity.mean) }

        func perImage(_ files: [URL], _ means: (PairwiseSimilarity) -> [Double]) -> [ImageScores] {
            let meansByScore = scores.map { (name: $0.choice.objective.scoreName, values: means($0.similarity)) }
            return files.enumerated().map { index, file in
                var values: [String: Double] = [:]
                for score in meansByScore { values[score.name] = score.values[index] }
                return ImageScores(file: file.lastPathComponent, scores: values)
            }
        }
        generatedImages = perImage(generated.files) { $0.generatedMeans }
        referenceImages = perImage(reference.files) { $0.referenceMeans }
    }

    func printText() {
        print("reference: \(referenceFolder) (\(imageCountText(referenceImages.count)))")
        print("generated: \(generatedFolder) (\(imageCountText(generatedImages.count)))")
        for score in scores {
            print("\(score.name.padding(toLength: 7, withPad: " ", startingAt: 0)) \(fixed(score.mean))  mean cosine over \(pairs == 1 ? "1 pair" : "\(pairs) pairs") (\(score.model))")
        }
        let names = scores.map(\.name)
        let header = names.map { $0.padding(toLength: 7, withPad: " ", startingAt: 0) }.joined(separator: " ")
        for (title, images) in [("per generated image, against all references", generatedImages), ("per reference image, against all generated images", referenceImages)] {
            print("")
            print("\(title):")
            print("  \(header)  file")
            for image in images {
                let values = names.map { fixed(image.scores[$0] ?? .nan).padding(toLength: 7, withPad: " ", startingAt: 0) }
                print("  \(values.joined(separator: " "))  \(image.file)")
            }
        }
    }
}

/// Returns "1 image" or "N images".
func imageCountText(_ count: Int) -> String {
    count == 1 ? "1 image" : "\(count) images"
}
