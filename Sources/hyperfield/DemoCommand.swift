import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// `hyperfield demo`: the main job end to end on one subject folder.
struct DemoCommand: Command {
    let name = "demo"
    let summary = "personalize a subject folder and write its adapter, samples, trajectory and scores"
    let description = """
        The whole job in one command, with the shipped models: personalizes the \
        subject in --images with one pass of the field (timed), writes the \
        adapter in HyperField's format and as a PEFT folder, samples the \
        subject next to the base model's samples from the same seed, writes the \
        trajectory grid (samples as s goes from 0 to S), and scores \
        identity with the CLIP-I-style and DINO-style nets against the \
        subject's photographs.

        The default folder data/demo-subject holds a synthetic face made by the \
        base model (see its README), because the real photographs may not be \
        shipped. Point --images at a folder of your own photographs to run the \
        same job on them.

          hyperfield demo
          hyperfield demo --images ~/photos/rex --class dog --output-dir out/rex
        """

    let images = Option.path("images", default: "data/demo-subject", help: "folder of photographs of one subject (PNG or JPEG; other files are skipped)")
    let subjectClass = Option.choice("class", choices: ["face", "cat", "dog"], default: "face", help: "class of the subject")
    let fieldPath = Option.path("field", default: "models/field.safetensors", help: "trained hypernetwork field")
    let denoiserPath = Option.path("denoiser", default: "models/denoiser.safetensors", help: "trained base denoiser")
    let autoencoderPath = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "trained autoencoder")
    let clipIPath = Option.path("clip-i", default: "models/clip-i.safetensors", help: "CLIP-I-style feature net")
    let dinoPath = Option.path("dino", default: "models/dino.safetensors", help: "DINO-style feature net")
    let count = Option.integer("count", default: 8, unit: "images", minimum: 1, help: "samples with and without the adapter")
    let steps = Option.integer("steps", default: 25, unit: "steps", minimum: 1, maximum: 1000, help: "DDIM denoising steps")
    let guidanceScale = Option.double("guidance-scale", default: 3, unit: "scale", minimum: 0, help: "classifier-free guidance scale")
    let seed = Option.integer("seed", default: 0, unit: "seed", minimum: 0, help: "seed of the samples' initial noise")
    let outputFolder = Option.path("output-dir", default: "out/demo", help: "folder the results are written to")
    let threads = Option.integer("threads", default: 0, unit: "threads", minimum: 0, help: "threads for the engine's loops and products; 0 uses HYPERFIELD_THREADS or every core")

    var options: [any CommandOption] {
        [images, subjectClass, fieldPath, denoiserPath, autoencoderPath, clipIPath, dinoPath, count, steps, guidanceScale,
         seed, outputFolder, threads]
    }

    struct Report: Encodable {
        struct Scores: Encodable {
            let clipI: Double
            let dino: Double
            enum CodingKeys: String, CodingKey {
                case clipI = "clip_i"
                case dino
            }
        }
        let subjectFolder: String
        let imageCount: Int
        let personalizeSeconds: Double
        let convergenceState: Int
        /// Samples with the adapter against the subject's photographs.
        let personalized: Scores
        /// Samples from the same seed without the adapter, for comparison.
        let baseModel: Scores
        enum CodingKeys: String, CodingKey {
            case subjectFolder = "subject_folder"
            case imageCount = "image_count"
            case personalizeSeconds = "personalize_seconds"
            case convergenceState = "convergence_state"
            case personalized = "personalized"
            case baseModel = "base_model"
        }
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        if arguments[threads] > 0 { Threading.setThreadCount(arguments[threads]) }
        let fieldURL = URL(fileURLWithPath: arguments[fieldPath])
        guard FileManager.default.fileExists(atPath: fieldURL.path) else {
            throw RuntimeError("field \(fieldURL.path) not found; pass --field FILE or train one with 'hyperfield train-field'")
        }
        let base = try BaseModels.load(autoencoder: arguments[autoencoderPath], denoiser: arguments[denoiserPath])
        let (field, fieldMetadata) = try ModelFile.loadField(from: fieldURL)
        try warnIfTrainedAgainstOtherDenoiser(
            fieldMetadata: fieldMetadata, fieldPath: fieldURL.path, denoiserPath: arguments[denoiserPath], logger: logger)
        let scorer = try IdentityScorer(clipIPath: arguments[clipIPath], dinoPath: arguments[dinoPath])
        let classIndex = TrainingData.classIndex(named: arguments[subjectClass])!
        let output = URL(fileURLWithPath: arguments[outputFolder], isDirectory: true)
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)

        // Personalization, timed as `personalize` times it: decode, encode
        // and one pass of the field.
        let start = Date()
        let folder = try SubjectFolder.load(
            arguments[images], classIndex: classIndex, autoencoder: base.autoencoder, normalization: base.normalization,
            logger: logger)
        let features = GradMode.withoutGradients { field.subjectFeatures(folder.latents.latents) }
        let total = field.configuration.totalSteps
        let source = FieldAdapterSource(field: field, features: features, metadata: [
            AdapterMetadataKey.baseModelSHA256: try fileSHA256(URL(fileURLWithPath: arguments[denoiserPath])),
            AdapterMetadataKey.subjectImageCount: String(folder.images.count),
            AdapterMetadataKey.subjectImageSHA256: folder.fileHashes.joined(separator: ","),
        ])
        let adapter = source.adapter(atStep: total)
        let seconds = Date().timeIntervalSince(start)
        // Straight to standard output, unbuffered, so that it comes before
        // the log lines of the sampling below even when piped.
        FileHandle.standardOutput.write(Data(String(
            format: "personalized %@ (%d images) in %.3f s\n", folder.folder.path, folder.images.count, seconds).utf8))

        var written: [(String, URL)] = []
        let adapterURL = output.appendingPathComponent("adapter.safetensors")
        try AdapterFile.write(adapter, to: adapterURL)
        written.append(("adapter, HyperField format", adapterURL))
        let peftURL = output.appendingPathComponent("adapter-peft", isDirectory: true)
        _ = try PEFTFormat.write(adapter, to: peftURL)
        written.append(("adapter, PEFT folder", peftURL))

        // Samples with and without the adapter, from the same seed.
        var sampling = SamplerSettings()
        sampling.steps = arguments[steps]
        sampling.guidanceScale = Float(arguments[guidanceScale])
        let sampler = DDIMSampler(denoiser: base.denoiser, schedule: base.schedule, settings: sampling)
        let perRow = arguments[count]
        func samples(_ adapter: Adapter?) throws -> [RGBImage] {
            var rng = SeededGenerator(seed: UInt64(arguments[seed]))
            let latents = sampler.sample(conditions: folder.latents.conditions(perRow), adapter: adapter, rng: &rng)
            return try BaseModels.decode(latents, autoencoder: base.autoencoder, normalization: base.normalization)
        }
        let personalized = try samples(adapter)
        let plain = try samples(nil)
        let sampleFolder = output.appendingPathComponent("samples", isDirectory: true)
        try FileManager.default.createDirectory(at: sampleFolder, withIntermediateDirectories: true)
        for (index, image) in personalized.enumerated() {
            try ImageEncoder.writePNG(image, to: sampleFolder.appendingPathComponent(String(format: "sample-%02d.png", index)))
        }
        written.append(("samples with the adapter", sampleFolder))
        var photographs = Array(folder.images.prefix(perRow))
        while photographs.count < perRow { photographs.append(ExperimentRunner.blank(like: folder.images[0])) }
        let gridURL = output.appendingPathComponent("samples.png")
        try ImageGrid(columns: perRow).writePNG(
            photographs + plain + personalized, rowLabels: ["photographs", "base model", "personalized"], to: gridURL)
        written.append(("sample grid", gridURL))

        let trajectoryURL = output.appendingPathComponent("trajectory.png")
        try TrajectoryCommand.writeGrid(
            field: field, features: features, folder: folder, base: base, fractions: [0, 0.25, 0.5, 0.75, 1],
            perRow: min(perRow, 6), sampling: sampling, seed: UInt64(arguments[seed]), to: trajectoryURL, logger: logger)
        written.append(("trajectory grid", trajectoryURL))

        let reference = scorer.embeddings(folder.images)
        let withAdapter = scorer.scores(generated: personalized, reference: reference)
        let without = scorer.scores(generated: plain, reference: reference)
        let report = Report(
            subjectFolder: folder.folder.path, imageCount: folder.images.count, personalizeSeconds: seconds,
            convergenceState: total,
            personalized: .init(clipI: withAdapter.clipI, dino: withAdapter.dino),
            baseModel: .init(clipI: without.clipI, dino: without.dino))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let metricsURL = output.appendingPathComponent("metrics.json")
        try AtomicFile.write(encoder.encode(report), to: metricsURL)
        written.append(("identity scores", metricsURL))

        print(String(format: "identity against the photographs: CLIP-I %.3f (base model %.3f), DINO %.3f (base model %.3f)",
                     withAdapter.clipI, without.clipI, withAdapter.dino, without.dino))
        for (label, url) in written {
            print("\(label): \(url.path)")
        }
    }
}
