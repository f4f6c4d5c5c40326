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
    /// Folder of the SGD and DreamBooth-LoRA adapters of finished runs.
    let baselineFolder: URL
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

        // Per-subject optimization from the same θ_0 on the same images. The
        // runs do not depend on the field's weights, so they are kept in
        // the baseline folder and reused when only the field changes.
        let snapshots = Set(settings.states + [total])
        func optimize(_ method: PerSubjectTraining.Method, seed: UInt64, label: String) throws -> [Int: Adapter] {
            let key = baselineKey(method: method, seed: seed)
            let file = { (state: Int) in
                baselineFolder.appendingPathComponent("\(Self.fileName(subject.id))-\(seed)-\(state).safetensors")
            }
            if let cached = try? snapshots.map({ state in (state, try AdapterFile.read(contentsOf: file(state))) }),
               cached.allSatisfy({ $0.1.metadata["baseline_key"] == key }),
               let time = Double(cached[0].1.metadata["seconds"] ?? "") {
                seconds[label] = time
                return Dictionary(uniqueKeysWithValues: cached)
            }
            let training = PerSubjectTraining(
                method: method, steps: total, drawsPerStep: settings.draws, timestepRange: 0..<base.schedule.timesteps)
            var rng = SeededGenerator(seed: seed)
            let start = Date()
            let path = training.run(
                denoiser: base.denoiser, schedule: base.schedule, subject: inputLatents, initial: field.initialAdapter,
                snapshots: snapshots, rng: &rng)
            let time = Date().timeIntervalSince(start)
            seconds[label] = time
            for (state, adapter) in path {
                var stamped = adapter
                stamped.metadata = ["baseline_key": key, "seconds": String(time)]
                try AdapterFile.write(stamped, to: file(state))
            }
            return path
        }
        let eta = field.configuration.learningRate
        let sgd1 = try optimize(.sgd(learningRate: eta), seed: seed + 1, label: ExperimentMethod.sgd)
        let sgd2 = try optimize(.sgd(learningRate: eta), seed: seed + 2, label: "SGD at η, second seed")
        let dreambooth = try optimize(.adam(learningRate: settings.dreamboothRate), seed: seed + 3, label: ExperimentMethod.dreambooth)[total]!

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

    /// Everything a baseline run depends on besides the subject's images.
    private func baselineKey(method: PerSubjectTraining.Method, seed: UInt64) -> String {
        let configuration = field.configuration
        return "\(method) seed \(seed) S \(configuration.totalSteps) rank \(configuration.rank) alpha \(configuration.alpha) "
            + "θ_0 seed \(configuration.initialSeed) draws \(settings.draws) inputs \(settings.inputImages) "
            + "states \(settings.states) denoiser \(settings.denoiserSHA256.prefix(16))"
    }

    static func fileName(_ id: String) -> String {
        id.replacingOccurrences(of: "/", with: "-")
    }

    private func encode(_ images: [RGBImage]) -> Tensor {
        GradMode.withoutGradients { base.normalization.normalize(base.autoencoder.encode(batchTensor(images))) }
    }

    static func blank(like image: RGBImage) -> RGBImage {
        RGBImage(width: image.width, height: image.height, pixels: [UInt8](repeating: 255, count: image.pixels.count))
    }
}
