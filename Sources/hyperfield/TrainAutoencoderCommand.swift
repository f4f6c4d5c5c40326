import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import TensorCore

/// `hyperfield train-autoencoder`: trains the latent autoencoder on the
/// training split of the shared photographs.
struct TrainAutoencoderCommand: Command {
    let name = "train-autoencoder"
    let summary = "train the image-to-latent autoencoder on the shared photographs"
    let description = """
        Trains the autoencoder that maps R x R images to 4 x R/4 x R/4 latents, \
        with an L1 reconstruction loss and a small penalty on the latents' mean \
        square, on the training split of the faces (LFW, ORL), cats and dogs. \
        Held-out identities are never loaded. Images are drawn by class, then \
        subject, then image, and mirrored at random.

        Checkpoints go to the run folder; --resume continues exactly where the \
        last one stopped. At the end the moving average of the weights is \
        saved with its configuration, the per-channel latent statistics, the \
        data manifest's hash and the training command, and the manifest is \
        written next to it under data/.

          hyperfield train-autoencoder --steps 6000 --max-minutes 40
        """

    let training = TrainingOptions(defaultSteps: 6000, defaultLearningRate: 5e-4, defaultRunFolder: "out/train-autoencoder")
    let output = Option.path("output", default: "models/autoencoder.safetensors", help: "where the trained model is written")
    let resolution = Option.integer("resolution", default: 64, unit: "pixels", minimum: 16, help: "image side R; latents are R/4")
    let baseChannels = Option.integer("base-channels", default: 32, unit: "channels", minimum: 8, help: "feature channels at full resolution (twice this at quarter resolution)")
    let latentPenalty = Option.double("latent-penalty", default: 1e-4, unit: "weight", minimum: 0, help: "weight of the latents' mean square in the loss")

    var options: [any CommandOption] { training.all + [output, resolution, baseChannels, latentPenalty] }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        training.applyThreads(arguments)
        let root = try training.dataRoot(arguments)

        var configuration = AutoencoderConfiguration()
        configuration.imageSize = arguments[resolution]
        configuration.baseChannels = arguments[baseChannels]
        if let problem = configuration.validationError() {
            throw UsageError("invalid autoencoder size: \(problem)")
        }

        logger.info("loading the training split from \(root.path)")
        let dataset = try TrainingData.loadTrainingSubjects(
            root: root, sources: SharedDataSource.allCases, resolution: configuration.imageSize, log: logger.info)
        let manifestURL = manifestURL(forModel: arguments[output])
        try FileManager.default.createDirectory(at: manifestURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let manifestHash = try dataset.manifest.write(to: manifestURL)
        logger.info("\(dataset.imageCount) images of \(dataset.subjects.count) subjects; manifest \(manifestURL.path) (sha256 \(manifestHash.prefix(16)))")

        let images = TrainingData.imageSamples(dataset)
        let settings = training.settings(arguments)
        let autoencoder = Autoencoder(configuration, seed: settings.seed)
        let task = AutoencoderTask(
            autoencoder: autoencoder, images: images, latentPenalty: Float(arguments[latentPenalty]),
            metadata: ["data_manifest_sha256": manifestHash, "training_command": invokedCommandLine()])
        let trainer = Trainer(
            task: task, settings: settings,
            store: CheckpointStore(folder: URL(fileURLWithPath: arguments[training.runFolder]), keep: settings.keepCheckpoints))
        guard try training.train(trainer, arguments, logger: logger) else { return }

        // Save the averaged weights with the latent statistics they give.
        try training.selectSavedWeights(trainer, arguments, logger: logger)
        let normalization = measureLatentNormalization(autoencoder, images: images)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var metadata = task.modelMetadata
        metadata["latent_normalization"] = String(decoding: try encoder.encode(normalization), as: UTF8.self)
        metadata["step"] = String(trainer.step)
        let url = URL(fileURLWithPath: arguments[output])
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ModelFile.save(autoencoder, configuration: configuration, kind: "autoencoder", metadata: metadata, to: url)
        logger.info("wrote \(url.path): latent mean \(normalization.mean.map { String(format: "%.3f", $0) }), std \(normalization.standardDeviation.map { String(format: "%.3f", $0) })")
    }
}

/// Per-channel statistics of the raw latents of up to 2048 training images
/// (every `stride`-th image, so all classes are represented).
func measureLatentNormalization(_ autoencoder: Autoencoder, images: LabeledSamples) -> LatentNormalization {
    let picked = Array(stride(from: 0, to: images.count, by: max(1, images.count / 2048)))
    var latents: [Float] = []
    var shape: [Int] = []
    for start in stride(from: 0, to: picked.count, by: 64) {
        let indices = picked[start..<min(start + 64, picked.count)]
        let batch = Tensor(shape: [indices.count] + images.sampleShape, data: indices.flatMap { images.sample($0) })
        let encoded = GradMode.withoutGradients { autoencoder.encode(batch) }
        latents += encoded.data
        shape = Array(encoded.shape.dropFirst())
    }
    return LatentNormalization(measuring: Tensor(shape: [picked.count] + shape, data: latents))
}
