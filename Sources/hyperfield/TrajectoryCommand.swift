import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// `hyperfield trajectory`: samples at several convergence states side by
/// side, so the subject can be seen emerging.
struct TrajectoryCommand: Command {
    let name = "trajectory"
    let summary = "write a grid of samples at several convergence states of the field"
    let description = """
        Personalizes the subject with the field at each convergence state in \
        --states (fractions of S) and samples the same seeds at every state, \
        one row per state, with the subject's own photographs in the first \
        row. State 0 is the base model with the initial adapter.

          hyperfield trajectory --images photos/rex --class dog --output rex-trajectory.png
        """

    let subject = SubjectOptions()
    let states = Option.list("states", of: Double.self, default: [0, 0.25, 0.5, 0.75, 1], unit: "fractions of S", help: "convergence states, one grid row each")
    let count = Option.integer("count", default: 6, unit: "images", minimum: 1, help: "samples per state")
    let steps = Option.integer("steps", default: 25, unit: "steps", minimum: 1, help: "DDIM denoising steps")
    let guidanceScale = Option.double("guidance-scale", default: 3, unit: "scale", minimum: 0, help: "classifier-free guidance scale")
    let seed = Option.integer("seed", default: 0, unit: "seed", minimum: 0, help: "seed of the initial noise, the same at every state")
    let output = Option.path("output", default: "out/trajectory.png", help: "where the grid is written")
    var options: [any CommandOption] { subject.all + [states, count, steps, guidanceScale, seed, output] }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        if let bad = arguments[states].first(where: { $0 < 0 || $0 > 1 }) {
            throw UsageError("--states takes fractions of S between 0 and 1, got \(bad)")
        }
        let base = try BaseModels.load(autoencoder: arguments[subject.autoencoder], denoiser: arguments[subject.denoiser])
        let (field, fieldMetadata) = try ModelFile.loadField(from: URL(fileURLWithPath: arguments[subject.field]))
        try warnIfTrainedAgainstOtherDenoiser(
            fieldMetadata: fieldMetadata, fieldPath: arguments[subject.field], denoiserPath: arguments[subject.denoiser],
            logger: logger)
        let classIndex = TrainingData.classIndex(named: arguments[subject.subjectClass])!
        let folder = try SubjectFolder.load(
            arguments[subject.images], classIndex: classIndex, autoencoder: base.autoencoder,
            normalization: base.normalization, logger: logger)
        let features = GradMode.withoutGradients { field.subjectFeatures(folder.latents.latents) }
        var settings = SamplerSettings()
        settings.steps = arguments[steps]
        settings.guidanceScale = Float(arguments[guidanceScale])
        let url = URL(fileURLWithPath: arguments[output])
        try Self.writeGrid(
            field: field, features: features, folder: folder, base: base, fractions: arguments[states],
            perRow: arguments[count], sampling: settings, seed: UInt64(arguments[seed]), to: url, logger: logger)
        logger.info("wrote \(url.path)")
    }

    /// Writes the grid: the subject's photographs, then one row of samples
    /// (the same seed) per convergence state.
    static func writeGrid(
        field: HypernetworkField, features: Tensor, folder: SubjectFolder, base: BaseModels, fractions: [Double],
        perRow: Int, sampling: SamplerSettings, seed: UInt64, to url: URL, logger: Logger
    ) throws {
        let sampler = DDIMSampler(denoiser: base.denoiser, schedule: base.schedule, settings: sampling)
        // First row: the subject's photographs, padded with white squares.
        var images = Array(folder.images.prefix(perRow))
        while images.count < perRow { images.append(ExperimentRunner.blank(like: folder.images[0])) }
        var labels = ["photographs"]
        let total = field.configuration.totalSteps
        for fraction in fractions {
            let state = (fraction * Double(total)).rounded()
            let adapter = GradMode.withoutGradients { field.adapter(features: features, state: state) }
            var rng = SeededGenerator(seed: seed)
            let latents = sampler.sample(conditions: folder.latents.conditions(perRow), adapter: adapter, rng: &rng)
            images += try BaseModels.decode(latents, autoencoder: base.autoencoder, normalization: base.normalization)
            labels.append("s = \(Int(state)) of \(total)")
            logger.info("sampled state \(Int(state)) of \(total)")
        }
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ImageGrid(columns: perRow).writePNG(images, rowLabels: labels, to: url)
    }
}
