import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Metrics
import TensorCore

/// `hyperfield train-features`: trains the CLIP-I-style or the DINO-style
/// feature net on the training split of the shared photographs.
struct TrainFeaturesCommand: Command {
    let name = "train-features"
    let summary = "train the CLIP-I-style or DINO-style feature net that scores identity"
    let description = """
        Trains one of the two small convolutional feature nets that the \
        metrics command uses, on 64x64 images of the training split of LFW, \
        ORL, DogFaceNet and the cat faces. Held-out identities are never \
        loaded.

        clip-i: InfoNCE between two augmented views of one image or, where \
        identity labels exist, of two images of one identity. dino: \
        self-distillation from an EMA teacher with centring, sharpening and \
        multi-crop views, without labels. Views are random resized crops, \
        flips, colour jitter, grayscale and blur.

        The weights are saved with their configuration, the data manifest's \
        hash, the command, the wall and processor time and the thread count. \
        The manifest goes to data/feature-train.manifest.tsv and a model card \
        next to the weights. With --init a run continues from an earlier \
        file's weights, and the card lists every run. The DINO-style net's \
        embedding is its last feature map, whitened by a principal component \
        analysis of the training images that is fitted after training and \
        reads no labels. Run validate-features afterwards to add the measured quality \
        to the card.

          hyperfield train-features --net clip-i --steps 700 --threads 1
          hyperfield train-features --net clip-i --init models/clip-i.safetensors --steps 300 --learning-rate 1e-3 --threads 1
        """

    let net = Option<FeatureNetChoice>.choice("net", help: "which feature net to train")
    let steps = Option.integer("steps", default: 700, unit: "steps", minimum: 1, help: "optimizer steps of the run")
    let batchSize = Option.integer("batch-size", unit: "samples", minimum: 2, help: "image pairs (clip-i, default 64) or images (dino, default 32) per step").optional()
    let learningRate = Option.double("learning-rate", unit: "per step", minimum: 0, help: "peak AdamW learning rate (clip-i default 2e-3, dino 1e-3), decayed by a cosine to 1/100").optional()
    let warmupSteps = Option.integer("warmup-steps", default: 50, unit: "steps", minimum: 0, help: "linear warm-up of the learning rate from 0")
    let seed = Option.integer("seed", default: 0, unit: "seed", minimum: 0, help: "seed of the weights, the data order and the augmentations")
    let maxMinutes = Option.double("max-minutes", default: 0, unit: "minutes", minimum: 0, help: "stop after this much training time and save; 0 means no limit")
    let initial = Option.path("init", help: "start from the weights of this file written by train-features for the same --net, instead of random weights; the model card then lists both runs").optional()
    let output = Option.path("output", help: "where the weights are written (default: models/<net>.safetensors)").optional()
    let card = Option.path("card", help: "where the model card is written (default: the --output path with .md in place of .safetensors)").optional()
    let data = Option.path("data", help: "folder of the shared photographs (default: $HYPERFIELD_DATA, else ../shared/data)").optional()
    let threads = Option.integer("threads", default: 0, unit: "threads", minimum: 0, help: "threads for the engine's loops and products; 0 uses HYPERFIELD_THREADS or every core")
    let timestamps = Logger.timestampsOption

    var options: [any CommandOption] {
        [net, steps, batchSize, learningRate, warmupSteps, seed, maxMinutes, initial, output, card, data, threads, timestamps]
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger(showsTimestamps: arguments[timestamps])
        let choice = arguments[net]
        if arguments[threads] > 0 { Threading.setThreadCount(arguments[threads]) }
        let root = TrainingData.dataRoot(arguments[data])
        guard FileManager.default.fileExists(atPath: root.path) else {
            throw RuntimeError("data folder \(root.path) does not exist; pass --data DIR or set HYPERFIELD_DATA to the folder of the shared photographs")
        }

        // Load the training split and record what it contains.
        let configuration = FeatureNetConfiguration.standard(choice.objective)
        logger.info("loading the training split from \(root.path)")
        let dataset = try TrainingData.loadTrainingSubjects(
            root: root, sources: SharedDataSource.allCases, resolution: configuration.imageSize, log: logger.info)
        let repository = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let manifestURL = DatasetManifest.defaultURL(repositoryRoot: repository, name: "feature-train")
        try FileManager.default.createDirectory(at: manifestURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let manifestHash = try dataset.manifest.write(to: manifestURL)
        let trainingSet = FeatureTrainingSet(dataset)
        let identities = trainingSet.classes.map { "\($0.rawValue) \(trainingSet.multiImageSubjectCount(of: $0))" }
        logger.info(
            "\(dataset.imageCount) images of \(dataset.subjects.count) subjects; subjects with 2 or more images: "
                + "\(identities.joined(separator: ", ")); manifest \(manifestURL.path) (sha256 \(manifestHash.prefix(16)))")

        // Build the net and its objective.
        var settings = FeatureTrainingSettings()
        settings.steps = arguments[steps]
        settings.batchSize = arguments[batchSize] ?? choice.defaultBatchSize
        settings.learningRate = Float(arguments[learningRate] ?? choice.defaultLearningRate)
        settings.minimumLearningRate = settings.learningRate / 100
        settings.warmupSteps = arguments[warmupSteps]
        settings.weightDecay = choice.weightDecay
        settings.seed = UInt64(arguments[seed])
        settings.maximumSeconds = arguments[maxMinutes] * 60
        let featureNet = FeatureNet(configuration, seed: settings.seed)
        var earlierRuns: [EarlierFeatureRun] = []
        if let path = arguments[initial] {
            earlierRuns = try loadInitialWeights(into: featureNet, from: path, choice: choice, manifestHash: manifestHash, logger: logger)
        }
        let objective: FeatureTrainingObjective
        switch choice.objective {
        case .contrastive: objective = ContrastiveObjective(net: featureNet, data: trainingSet)
        case .selfDistillation: objective = SelfDistillationObjective(net: featureNet, data: trainingSet, seed: settings.seed)
        }
        logger.info(
            "training \(choice.rawValue) (\(featureNet.parameterCount) parameters) for \(settings.steps) steps, "
                + "batch \(settings.batchSize), learning rate \(settings.learningRate), \(Threading.threadCount) threads")

        // Train with a progress display.
        let progress = ProgressReporter(label: "train \(choice.rawValue)", total: settings.steps, unit: "steps")
        var recentLosses: [Float] = []
        let summary = try FeatureNetTrainer(objective: objective, settings: settings).run { event in
            switch event {
            case .step(let step, let loss, let rate, let norm, let diagnostics):
                recentLosses.append(loss)
                if recentLosses.count > 20 { recentLosses.removeFirst() }
                let mean = recentLosses.reduce(0, +) / Float(recentLosses.count)
                var fields = [
                    ProgressField("loss", String(format: "%.4f", mean)),
                    ProgressField("lr", String(format: "%.2e", rate)),
                    ProgressField("grad", String(format: "%.2f", norm)),
                ]
                fields += diagnostics.map { ProgressField($0.name, String(format: "%.3f", $0.value)) }
                progress.update(completed: step, fields: fields)
            }
        }
        progress.finish()
        if summary.steps < settings.steps {
            logger.info("time limit of \(arguments[maxMinutes]) minutes reached at step \(summary.steps) of \(settings.steps)")
        }
        logger.info(String(
            format: "trained %d steps in %.1f s wall time, %.1f s processor time (%.2f steps per processor second); "
                + "mean loss %.4f over the first 50 steps, %.4f over the last 50",
            summary.steps, summary.seconds, summary.cpuSeconds, Double(summary.steps) / max(summary.cpuSeconds, 1e-9),
            summary.initialLoss, summary.finalLoss))

        // Fit the whitening of the embedding to the training images; it
        // reads no labels.
        var whiteningFit: WhiteningFit?
        if configuration.whitening != nil {
            let images = dataset.subjects.flatMap(\.images)
            logger.info("fitting the whitening of the embedding to the last feature maps of \(images.count) training images (no labels)")
            let fit = try featureNet.fitWhitening(to: images)
            logger.info(String(
                format: "whitening: %d of %d components keep %.1f%% of the variance; eigenvalues %.3g (largest) to %.3g (last kept)",
                fit.width, fit.inputWidth, 100 * fit.keptVariance, fit.largestEigenvalue, fit.smallestKeptEigenvalue))
            whiteningFit = fit
        }

        // Save the weights with what made them, then the model card.
        var facts = FeatureNetTrainingFacts(
            net: choice.rawValue, command: invokedCommandLine(), manifestSHA256: manifestHash,
            manifestPath: "data/feature-train.manifest.tsv", imageCount: dataset.imageCount,
            subjectCount: dataset.subjects.count, steps: summary.steps, plannedSteps: settings.steps,
            batchSize: settings.batchSize, learningRate: settings.learningRate, seconds: summary.seconds,
            cpuSeconds: summary.cpuSeconds,
            threads: Threading.threadCount, machine: machineDescription(),
            initialLoss: summary.initialLoss, finalLoss: summary.finalLoss,
            parameterCount: featureNet.trainableParameters().reduce(0) { $0 + $1.tensor.count },
            earlierRuns: earlierRuns)
        facts.whiteningImageCount = whiteningFit?.imageCount
        facts.whiteningKeptVariance = whiteningFit?.keptVariance
        let modelPath = arguments[output] ?? choice.defaultModelPath
        let url = URL(fileURLWithPath: modelPath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ModelFile.save(featureNet, configuration: configuration, kind: featureNetModelKind, metadata: facts.metadata, to: url)
        logger.info("wrote \(url.path)")

        let cardURL = URL(fileURLWithPath: arguments[card] ?? modelCardPath(forModel: modelPath))
        let cardText = FeatureNetCard(configuration: configuration, facts: facts, modelPath: modelPath, validation: nil).markdown
        try AtomicFile.write(Data(cardText.utf8), to: cardURL)
        logger.info("wrote \(cardURL.path); run `hyperfield validate-features` to add the measured quality")
    }

    /// Copies the weights of an earlier `train-features` file into `net` and
    /// returns the runs that made them, oldest first.
    private func loadInitialWeights(
        into net: FeatureNet, from path: String, choice: FeatureNetChoice, manifestHash: String, logger: Logger
    ) throws -> [EarlierFeatureRun] {
        let (earlier, metadata) = try loadFeatureNet(from: URL(fileURLWithPath: path))
        // The embedding may differ: the whitening is fitted anew after
        // training, so a file without one can be continued.
        var earlierTraining = earlier.configuration
        earlierTraining.embeddingSource = net.configuration.embeddingSource
        earlierTraining.whitening = net.configuration.whitening
        guard earlierTraining == net.configuration else {
            throw RuntimeError("\(path) has another configuration than a new \(choice.rawValue) net; pass a file trained with --net \(choice.rawValue) by this version")
        }
        guard let facts = FeatureNetTrainingFacts(metadata: metadata), facts.net == choice.rawValue else {
            throw RuntimeError("\(path) lacks the training facts of a \(choice.rawValue) net written by train-features; pass such a file to --init")
        }
        if facts.manifestSHA256 != manifestHash {
            logger.warning("\(path) was trained on data with manifest sha256 \(facts.manifestSHA256.prefix(16)), this run's is \(manifestHash.prefix(16))")
        }
        let trained = earlier.namedParameters().filter { !$0.name.hasPrefix("whitening.") }
        let whitening = net.namedParameters().filter { $0.name.hasPrefix("whitening.") }
        try net.load(Dictionary(uniqueKeysWithValues: (trained + whitening).map { ($0.name, $0.tensor) }))
        logger.info("starting from the weights of \(path) (\(facts.steps) steps)")
        return facts.earlierRuns + [facts.asEarlierRun]
    }
}
