import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import TensorCore

/// `hyperfield train-denoiser`: trains the LoRA-ready U-Net on the latents of
/// the shared photographs.
struct TrainDenoiserCommand: Command {
    let name = "train-denoiser"
    let summary = "train the latent denoiser on the shared photographs"
    let description = """
        Trains the U-Net that predicts the noise in a latent, conditioned on a \
        class token (face, cat, dog) and the identifier token [V], on the \
        training split of the shared photographs. Each image and its mirror \
        image are encoded once by the autoencoder (cached under out/cache); \
        latents are drawn by class, then subject, then image. A tenth of the \
        samples get the null class and null identifier, for classifier-free \
        guidance.

        Checkpoints go to the run folder and --resume continues exactly. A grid \
        of samples (8 per class, guidance 3) is written to <run-dir>/samples \
        every --sample-every steps. At the end the moving average of the weights \
        is saved with its configuration, the data manifest's hash and the \
        training command.

          hyperfield train-denoiser --steps 40000 --max-minutes 150 --resume
        """

    let training = TrainingOptions(defaultSteps: 40000, defaultLearningRate: 2e-4, defaultRunFolder: "out/train-denoiser")
    let output = Option.path("output", default: "models/denoiser.safetensors", help: "where the trained model is written")
    let autoencoderPath = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "trained autoencoder whose latents the denoiser learns")
    let channels = Option.list("channels", of: Int.self, default: [32, 64, 128], unit: "channels", help: "feature channels per U-Net level, from the latent resolution down")
    let attentionLevels = Option.list("attention-levels", of: Int.self, default: [1, 2], unit: "levels", help: "levels (0-based) with a transformer block")
    let heads = Option.integer("heads", default: 4, unit: "heads", minimum: 1, help: "attention heads per transformer block")
    let contextWidth = Option.integer("context-width", default: 64, unit: "features", minimum: 4, help: "width of the class and identifier tokens")
    let convolutionSlots = Option.flag("convolution-slots", help: "make the residual blocks' 3x3 convolutions LoRA slots too")
    let conditionDropout = Option.double("condition-dropout", default: 0.1, unit: "probability", minimum: 0, maximum: 1, help: "chance that a sample is trained unconditioned")
    let sampleEvery = Option.integer("sample-every", default: 2000, unit: "steps", minimum: 0, help: "steps between sample grids; 0 writes none")

    var options: [any CommandOption] {
        training.all + [output, autoencoderPath, channels, attentionLevels, heads, contextWidth, convolutionSlots,
                        conditionDropout, sampleEvery]
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        training.applyThreads(arguments)
        let root = try training.dataRoot(arguments)
        let (autoencoder, normalization, _) = try BaseModels.loadAutoencoder(arguments[autoencoderPath])
        let autoencoderHash = try fileSHA256(URL(fileURLWithPath: arguments[autoencoderPath]))

        var configuration = DenoiserConfiguration()
        configuration.latentChannels = autoencoder.configuration.latentChannels
        configuration.latentSize = autoencoder.configuration.latentSize
        configuration.channels = arguments[channels]
        configuration.attentionLevels = arguments[attentionLevels]
        configuration.heads = arguments[heads]
        configuration.contextWidth = arguments[contextWidth]
        configuration.convolutionSlots = arguments[convolutionSlots]
        configuration.classCount = TrainingData.classes.count
        if let problem = configuration.validationError() {
            throw UsageError("invalid denoiser size: \(problem)")
        }

        logger.info("loading the training split from \(root.path)")
        let dataset = try TrainingData.loadTrainingSubjects(
            root: root, sources: SharedDataSource.allCases, resolution: autoencoder.configuration.imageSize, log: logger.info)
        let manifestURL = manifestURL(forModel: arguments[output])
        try FileManager.default.createDirectory(at: manifestURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let manifestHash = try dataset.manifest.write(to: manifestURL)
        logger.info("\(dataset.imageCount) images of \(dataset.subjects.count) subjects; manifest \(manifestURL.path) (sha256 \(manifestHash.prefix(16)))")

        let latents = try TrainingData.cachedLatents(
            dataset, autoencoder: autoencoder, normalization: normalization,
            key: "\(autoencoderHash.prefix(16))-\(manifestHash.prefix(16))", logger: logger)

        let settings = training.settings(arguments)
        let denoiser = Denoiser(configuration, seed: settings.seed)
        let schedule = NoiseSchedule(kind: .linear, timesteps: 1000)
        logger.info("denoiser \(configuration.channels): \(denoiser.parameterCount) parameters, \(denoiser.slots.count) LoRA slots")
        let task = DenoiserTask(
            denoiser: denoiser, schedule: schedule, latents: latents,
            conditionDropout: Float(arguments[conditionDropout]),
            metadata: [
                "data_manifest_sha256": manifestHash, "autoencoder_sha256": autoencoderHash,
                "training_command": invokedCommandLine(), "noise_schedule": schedule.kind.rawValue,
                "training_timesteps": String(schedule.timesteps),
            ])
        let runFolder = URL(fileURLWithPath: arguments[training.runFolder])
        let trainer = Trainer(task: task, settings: settings, store: CheckpointStore(folder: runFolder, keep: settings.keepCheckpoints))

        let every = arguments[sampleEvery]
        let finished = try training.train(trainer, arguments, logger: logger) { step in
            guard every > 0, step % every == 0 else { return }
            let url = runFolder.appendingPathComponent("samples/step-\(step).png")
            do {
                try trainer.withAverages {
                    try writeSampleGrid(
                        denoiser: denoiser, schedule: schedule, autoencoder: autoencoder, normalization: normalization, to: url)
                }
                logger.info("step \(step): wrote sample grid \(url.path)")
            } catch {
                logger.warning("step \(step): could not write the sample grid \(url.path): \(error)")
            }
        }
        guard finished else { return }

        try training.selectSavedWeights(trainer, arguments, logger: logger)
        let samplesURL = runFolder.appendingPathComponent("samples/final.png")
        try writeSampleGrid(denoiser: denoiser, schedule: schedule, autoencoder: autoencoder, normalization: normalization, to: samplesURL)
        logger.info("wrote sample grid \(samplesURL.path)")

        var metadata = task.modelMetadata
        metadata["step"] = String(trainer.step)
        let url = URL(fileURLWithPath: arguments[output])
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ModelFile.save(denoiser, configuration: configuration, kind: "denoiser", metadata: metadata, to: url)
        logger.info("wrote \(url.path)")
    }
}

/// Writes a grid of 8 samples per class at guidance 3 (rows: classes).
func writeSampleGrid(
    denoiser: Denoiser, schedule: NoiseSchedule, autoencoder: Autoencoder, normalization: LatentNormalization,
    to url: URL, guidanceScale: Float = 3, seed: UInt64 = 1
) throws {
    var settings = SamplerSettings()
    settings.guidanceScale = guidanceScale
    let sampler = DDIMSampler(denoiser: denoiser, schedule: schedule, settings: settings)
    var rng = SeededGenerator(seed: seed)
    var images: [RGBImage] = []
    for classIndex in 0..<TrainingData.classes.count {
        let latents = sampler.sample(conditions: [Condition](repeating: Condition(classIndex: classIndex), count: 8), rng: &rng)
        images += try BaseModels.decode(latents, autoencoder: autoencoder, normalization: normalization)
    }
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try ImageGrid(columns: 8).writePNG(images, rowLabels: TrainingData.classes.map { $0.rawValue }, to: url)
}
