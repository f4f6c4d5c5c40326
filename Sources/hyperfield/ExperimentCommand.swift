import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// `hyperfield experiment`: the comparison that checks the method, on
/// held-out subjects, written to `docs/EXPERIMENTS.md`.
struct ExperimentCommand: Command {
    let name = "experiment"
    let summary = "compare the field with DreamBooth-LoRA, the regression baseline and no adapter on held-out subjects"
    let description = """
        For each held-out LFW person and DogFaceNet dog chosen (none of them \
        seen by any model), gives --input-images photographs to every method \
        and keeps up to --unseen-images others for scoring:

        - Trajectory fidelity: two runs of plain SGD at the field's rate η from \
        θ_0 (seeds 1 and 2) against the field's H(X, s) at each --states \
        fraction of S: relative error ‖H − θ_s‖ / ‖θ_s − θ_0‖ and the cosine of \
        H − θ_0 with θ_s − θ_0, next to the same figures between the two SGD \
        runs.
        - Denoising loss on the unseen photographs, with the same fixed \
        mid-range timesteps and noise for every method.
        - Identity: CLIP-I-style and DINO-style scores of samples (same seed \
        for every method) against the unseen photographs.
        - Cost: time to personalize one subject with each method, and the \
        training compute of the field against the regression baseline's.

        Each subject's results are kept in <results-dir>/subjects, so an \
        interrupted run continues where it stopped; the tables are rewritten \
        from every finished subject. The regression baseline is left out when \
        its file is absent.

          hyperfield experiment --faces 20 --dogs 20
        """

    let fieldPath = Option.path("field", default: "models/field.safetensors", help: "trained hypernetwork field")
    let regressionPath = Option.path("regression", default: "models/regression.safetensors", help: "trained regression hypernetwork (left out when absent)")
    let denoiserPath = Option.path("denoiser", default: "models/denoiser.safetensors", help: "trained base denoiser")
    let autoencoderPath = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "trained autoencoder")
    let clipIPath = Option.path("clip-i", default: "models/clip-i.safetensors", help: "CLIP-I-style feature net")
    let dinoPath = Option.path("dino", default: "models/dino.safetensors", help: "DINO-style feature net")
    let faces = Option.integer("faces", default: 20, unit: "subjects", minimum: 0, help: "held-out LFW people to test")
    let dogs = Option.integer("dogs", default: 20, unit: "subjects", minimum: 0, help: "held-out DogFaceNet dogs to test")
    let inputImages = Option.integer("input-images", default: 4, unit: "images", minimum: 1, help: "photographs every method is given")
    let unseenImages = Option.integer("unseen-images", default: 8, unit: "images", minimum: 2, help: "most photographs kept back for scoring; subjects need at least 2 beyond --input-images")
    let states = Option.list("states", of: Double.self, default: [0.25, 0.5, 1], unit: "fractions of S", help: "convergence states at which trajectories are compared")
    let draws = Option.integer("draws", default: 4, unit: "draws", minimum: 1, help: "loss draws (image, timestep, noise) per step of the SGD and DreamBooth runs, their batch size")
    let dreamboothRate = Option.double("dreambooth-learning-rate", default: 1e-3, unit: "per step", minimum: 0, help: "Adam learning rate of DreamBooth-LoRA, which runs S steps")
    let evaluationDraws = Option.integer("evaluation-draws", default: 32, unit: "draws", minimum: 2, help: "fixed draws of the denoising loss on the unseen photographs")
    let samples = Option.integer("samples", default: 8, unit: "images", minimum: 1, help: "samples per method and subject for the identity scores")
    let samplingSteps = Option.integer("sampling-steps", default: 25, unit: "steps", minimum: 1, help: "DDIM steps of the samples")
    let guidanceScale = Option.double("guidance-scale", default: 3, unit: "scale", minimum: 0, help: "classifier-free guidance scale of the samples")
    let output = Option.path("output", default: "docs/EXPERIMENTS.md", help: "where the tables are written")
    let resultsFolder = Option.path("results-dir", default: "out/experiment", help: "folder of per-subject results, sample grids and results.json")
    let data = Option.path("data", help: "folder of the shared photographs (default: $HYPERFIELD_DATA, else ../shared/data)").optional()
    let threads = Option.integer("threads", default: 0, unit: "threads", minimum: 0, help: "threads for the engine's loops and products; 0 uses HYPERFIELD_THREADS or every core")

    var options: [any CommandOption] {
        [fieldPath, regressionPath, denoiserPath, autoencoderPath, clipIPath, dinoPath, faces, dogs, inputImages,
         unseenImages, states, draws, dreamboothRate, evaluationDraws, samples, samplingSteps, guidanceScale, output,
         resultsFolder, data, threads]
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        if arguments[threads] > 0 { Threading.setThreadCount(arguments[threads]) }
        if let bad = arguments[states].first(where: { !($0 > 0 && $0 <= 1) }) {
            throw UsageError("--states takes fractions of S above 0 and at most 1, got \(bad)")
        }
        let root = try TrainingData.existingDataRoot(arguments[data])
        let base = try BaseModels.load(autoencoder: arguments[autoencoderPath], denoiser: arguments[denoiserPath])
        base.denoiser.setTrainable(false)
        let (field, fieldMetadata) = try ModelFile.loadField(from: URL(fileURLWithPath: arguments[fieldPath]))
        var regression: (network: HypernetworkField, metadata: [String: String])?
        if FileManager.default.fileExists(atPath: arguments[regressionPath]) {
            let loaded = try ModelFile.loadField(from: URL(fileURLWithPath: arguments[regressionPath]))
            guard loaded.field.configuration.slots == field.configuration.slots,
                  loaded.field.configuration.rank == field.configuration.rank else {
                throw RuntimeError("\(arguments[regressionPath]) writes other slots or another rank than the field \(arguments[fieldPath]); train it with --field \(arguments[fieldPath])")
            }
            regression = (loaded.field, loaded.metadata)
        } else {
            logger.warning("no regression network at \(arguments[regressionPath]): that baseline is left out (train it with hyperfield train-regression)")
        }
        let scorer = try IdentityScorer(clipIPath: arguments[clipIPath], dinoPath: arguments[dinoPath])

        let settings = ExperimentSettings(
            inputImages: arguments[inputImages], unseenImages: arguments[unseenImages],
            states: arguments[states].map { Int(($0 * Double(field.configuration.totalSteps)).rounded()) },
            draws: arguments[draws], dreamboothRate: Float(arguments[dreamboothRate]),
            evaluationDraws: arguments[evaluationDraws], samples: arguments[samples],
            samplingSteps: arguments[samplingSteps], guidanceScale: Float(arguments[guidanceScale]),
            fieldSHA256: try fileSHA256(URL(fileURLWithPath: arguments[fieldPath])),
            regressionSHA256: try regression.map { _ in try fileSHA256(URL(fileURLWithPath: arguments[regressionPath])) },
            denoiserSHA256: try fileSHA256(URL(fileURLWithPath: arguments[denoiserPath])),
            clipISHA256: try fileSHA256(URL(fileURLWithPath: arguments[clipIPath])),
            dinoSHA256: try fileSHA256(URL(fileURLWithPath: arguments[dinoPath])))

        let subjects = try Self.heldOutSubjects(
            root: root, faces: arguments[faces], dogs: arguments[dogs],
            minimumImages: settings.inputImages + 2, resolution: base.autoencoder.configuration.imageSize, logger: logger)
        let folder = URL(fileURLWithPath: arguments[resultsFolder], isDirectory: true)
        let subjectFolder = folder.appendingPathComponent("subjects", isDirectory: true)
        let sampleFolder = folder.appendingPathComponent("samples", isDirectory: true)
        let baselineFolder = folder.appendingPathComponent("baselines", isDirectory: true)
        for path in [subjectFolder, sampleFolder, baselineFolder] {
            try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        }

        let runner = ExperimentRunner(
            base: base, field: field, regression: regression?.network, scorer: scorer, settings: settings,
            baselineFolder: baselineFolder, logger: logger)
        var results: [SubjectResult] = []
        let progress = ProgressReporter(label: "experiment", total: subjects.count, unit: "subjects")
        for (index, subject) in subjects.enumerated() {
            let fileName = "\(ExperimentRunner.fileName(subject.id)).json"
            let url = subjectFolder.appendingPathComponent(fileName)
            if let data = try? Data(contentsOf: url), let saved = try? JSONDecoder().decode(SubjectResult.self, from: data),
               saved.settings == settings {
                results.append(saved)
            } else {
                let result = try runner.run(subject, index: index, gridURL: sampleFolder.appendingPathComponent("\(fileName.dropLast(5)).png"))
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                try AtomicFile.write(encoder.encode(result), to: url)
                results.append(result)
            }
            progress.update(completed: index + 1, fields: [ProgressField("subject", subject.id)])
        }
        progress.finish()

        let report = ExperimentReport(
            results: results, settings: settings, field: field, fieldMetadata: fieldMetadata,
            regressionMetadata: regression?.metadata, command: invokedCommandLine(), machine: machineDescription(),
            threads: Threading.threadCount)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(encoder.encode(results), to: folder.appendingPathComponent("results.json"))
        let outputURL = URL(fileURLWithPath: arguments[output])
        try FileManager.default.createDirectory(at: outputURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AtomicFile.write(Data(report.markdown().utf8), to: outputURL)
        logger.info("wrote \(outputURL.path) from \(results.count == 1 ? "1 subject" : "\(results.count) subjects"); per-subject results and sample grids are in \(folder.path)")
    }

    /// Loads the first `faces` LFW people and `dogs` DogFaceNet dogs of the
    /// held-out lists, in name order, with at least `minimumImages` photographs.
    static func heldOutSubjects(
        root: URL, faces: Int, dogs: Int, minimumImages: Int, resolution: Int, logger: Logger
    ) throws -> [SubjectDataset.Subject] {
        let catalog = SharedDataCatalog(root: root, log: logger.info)
        var chosen: [SubjectListing] = []
        for (source, count) in [(SharedDataSource.lfw, faces), (.dogFaceNet, dogs)] where count > 0 {
            let eligible = try catalog.subjects(of: source, split: .heldOut)
                .filter { $0.files.count >= minimumImages }
                .sorted { $0.name < $1.name }
            if eligible.count < count {
                logger.warning("\(source.rawValue): only \(eligible.count) held-out subjects have \(minimumImages) or more photographs; using them all")
            }
            chosen += eligible.prefix(count)
        }
        guard !chosen.isEmpty else {
            throw RuntimeError("no held-out subject has \(minimumImages) or more photographs in \(root.path); lower --input-images or check the data folder")
        }
        var preparation = ImagePreparation()
        preparation.resolution = resolution
        return try SubjectDataset.load(chosen, preparation: preparation, log: logger.info).subjects
    }
}

/// Everything that changes an experiment's per-subject results; saved
/// results are reused only when their settings are equal.
struct ExperimentSettings: Codable, Equatable {
    var inputImages: Int
    var unseenImages: Int
    /// Convergence states in steps.
    var states: [Int]
    var draws: Int
    var dreamboothRate: Float
    var evaluationDraws: Int
    var samples: Int
    var samplingSteps: Int
    var guidanceScale: Float
    var fieldSHA256: String
    var regressionSHA256: String?
    var denoiserSHA256: String
    var clipISHA256: String
    var dinoSHA256: String
}

/// One held-out subject's figures.
struct SubjectResult: Codable {
    struct Fidelity: Codable {
        var state: Int
        /// The field against SGD run 1.
        var fieldRelativeError: Double
        var fieldCosine: Double
        /// SGD run 2 against SGD run 1.
        var sgdRelativeError: Double
        var sgdCosine: Double
    }

    var id: String
    var classLabel: String
    var inputCount: Int
    var unseenCount: Int
    var settings: ExperimentSettings
    var fidelity: [Fidelity]
    /// Denoising loss on the unseen photographs, by method.
    var unseenLoss: [String: Double]
    /// Identity scores of samples against the unseen photographs, by method.
    var identity: [String: IdentityScorer.Scores]
    /// Seconds to personalize, by method (SGD: one run).
    var seconds: [String: Double]
}

/// Method names, in table order.
enum ExperimentMethod {
    static let none = "no adapter"
    static let field = "field"
    static let sgd = "SGD at η"
    static let dreambooth = "DreamBooth-LoRA"
    static let regression = "regression"
    static let order = [none, field, dreambooth, regression, sgd]
}
