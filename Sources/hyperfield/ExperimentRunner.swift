import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// Runs every method of the experiment on one held-out subject.
struct ExperimentRunner {
    let base: BaseModels
    let field: HypernetworkField
    let regression: HypernetworkField?
    let scorer: IdentityScorer
    let settings: ExperimentSettings
    let logger: Logger

    /// Timesteps of the fixed evaluation draws: mid-range, where the
    /// differences between adapters show (near 0 and near T every adapter
    /// predicts the noise about equally well).
    static let evaluationTimesteps = 200..<800

    func run(_ subject: SubjectDataset.Subject, index: Int, gridURL: URL) throws -> SubjectResult {
        let classIndex = TrainingData.classIndex(subject.classLabel)
        let input = Array(subject.images.prefix(settings.inputImages))
        let unseen = Array(subject.images.dropFirst(settings.inputImages).prefix(settings.unseenImages))
        let inputLatents = SubjectLatents(id: subject.id, latents: encode(input), classIndex: classIndex)
        let unseenLatents = SubjectLatents(id: subject.id, latents: encode(unseen), classIndex: classIndex)
        let total = field.configuration.totalSteps
        let seed = UInt64(index) * 16

        // The field: one forward pass gives the adapter at any state.
        var start = Date()
        let features = GradMode.withoutGradients { field.subjectFeatures(inputLatents.latents) }
        let fieldAdapter = GradMode.withoutGradients { field.adapter(features: features, state: Double(total)) }.detached()
        var seconds = [ExperimentMethod.field: Date().timeIntervalSince(start)]
        let fieldStates = Dictionary(uniqueKeysWithValues: settings.states.map { state in
            (state, GradMode.withoutGradients { field.adapter(features: features, state: Double(state)) }.detached())
        })

        // Per-subject optimization from the same θ_0 on the same images.
        let snapshots = Set(settings.states + [total])
        func optimize(_ method: PerSubjectTraining.Method, seed: UInt64, label: String) -> [Int: Adapter] {
            let training = PerSubjectTraining(
                method: method, steps: total, drawsPerStep: settings.draws, timestepRange: 0..<base.schedule.timesteps)
            var rng = SeededGenerator(seed: seed)
            let start = Date()
            let path = training.run(
                denoiser: base.denoiser, schedule: base.schedule, subject: inputLatents, initial: field.initialAdapter,
                snapshots: snapshots, rng: &rng)
            seconds[label] = Date().timeIntervalSince(start)
            return path
        }
        let eta = field.configuration.learningRate
        let sgd1 = optimize(.sgd(learningRate: eta), seed: seed + 1, label: ExperimentMethod.sgd)
        let sgd2 = optimize(.sgd(learningRate: eta), seed: seed + 2, label: "SGD at η, second seed")
        let dreambooth = optimize(.adam(learningRate: settings.dreamboothRate), seed: seed + 3, label: ExperimentMethod.dreambooth)[total]!

        var adapters: [(String, Adapter?)] = [
            (ExperimentMethod.none, nil), (ExperimentMethod.field, fieldAdapter),
            (ExperimentMethod.dreambooth, dreambooth), (ExperimentMethod.sgd, sgd1[total]!),
        ]
        if let regression {
            start = Date()
            let adapter = GradMode.withoutGradients { regression(inputLatents.latents, state: Double(regression.configuration.totalSteps)) }
            seconds[ExperimentMethod.regression] = Date().timeIntervalSince(start)
            adapters.insert((ExperimentMethod.regression, adapter.detached()), at: 3)
        }

        // Trajectory fidelity against SGD run 1, and run 2 against run 1.
        let origin = AdapterMath.flatten(field.initialAdapter)
        let fidelity = settings.states.map { state -> SubjectResult.Fidelity in
            let real = AdapterMath.subtract(AdapterMath.flatten(sgd1[state]!), origin)
            let predicted = AdapterMath.subtract(AdapterMath.flatten(fieldStates[state]!), origin)
            let other = AdapterMath.subtract(AdapterMath.flatten(sgd2[state]!), origin)
            return SubjectResult.Fidelity(
                state: state,
                fieldRelativeError: AdapterMath.relativeError(predicted, real), fieldCosine: AdapterMath.cosine(predicted, real),
                sgdRelativeError: AdapterMath.relativeError(other, real), sgdCosine: AdapterMath.cosine(other, real))
        }

        // Denoising loss on the unseen photographs, same draws for all.
        var drawRNG = SeededGenerator(seed: 9_000 + UInt64(index))
        let (evaluationLatents, draws) = subjectLossBatch(
            unseenLatents, count: settings.evaluationDraws, timestepRange: Self.evaluationTimesteps, rng: &drawRNG)
        var unseenLoss: [String: Double] = [:]
        for (name, adapter) in adapters {
            unseenLoss[name] = Double(GradMode.withoutGradients {
                denoisingLoss(
                    denoiser: base.denoiser, schedule: base.schedule, latents: evaluationLatents,
                    conditions: unseenLatents.conditions(evaluationLatents.shape[0]), timesteps: draws.timesteps,
                    noise: draws.noise, adapter: adapter)
            }.item)
        }

        // Identity: samples from the same seed for every method.
        var sampling = SamplerSettings()
        sampling.steps = settings.samplingSteps
        sampling.guidanceScale = settings.guidanceScale
        let sampler = DDIMSampler(denoiser: base.denoiser, schedule: base.schedule, settings: sampling)
        let reference = scorer.embeddings(unseen)
        var identity: [String: IdentityScorer.Scores] = [:]
        var gridImages = Array(input.prefix(settings.samples))
        while gridImages.count < settings.samples { gridImages.append(Self.blank(like: input[0])) }
        var labels = ["photographs given"]
        for (name, adapter) in adapters {
            var rng = SeededGenerator(seed: 500 + UInt64(index))
            let latents = sampler.sample(conditions: inputLatents.conditions(settings.samples), adapter: adapter, rng: &rng)
            let images = try BaseModels.decode(latents, autoencoder: base.autoencoder, normalization: base.normalization)
            identity[name] = scorer.scores(generated: images, reference: reference)
            if name != ExperimentMethod.sgd {
                gridImages += images
                labels.append(name)
            }
        }
        try ImageGrid(columns: settings.samples).writePNG(gridImages, rowLabels: labels, to: gridURL)
        logger.info(String(
            format: "%@: CLIP-I no adapter %.3f, field %.3f, DreamBooth %.3f; field vs SGD at S: cosine %.2f",
            subject.id, identity[ExperimentMethod.none]!.clipI, identity[ExperimentMethod.field]!.clipI,
            identity[ExperimentMethod.dreambooth]!.clipI, fidelity.last!.fieldCosine))

        return SubjectResult(
            id: subject.id, classLabel: subject.classLabel.rawValue, inputCount: input.count, unseenCount: unseen.count,
            settings: settings, fidelity: fidelity, unseenLoss: unseenLoss, identity: identity, seconds: seconds)
    }

    private func encode(_ images: [RGBImage]) -> Tensor {
        GradMode.withoutGradients { base.normalization.normalize(base.autoencoder.encode(batchTensor(images))) }
    }

    static func blank(like image: RGBImage) -> RGBImage {
        RGBImage(width: image.width, height: image.height, pixels: [UInt8](repeating: 255, count: image.pixels.count))
    }
}
