import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// `hyperfield train-regression`: the regression hypernetwork baseline,
/// trained on DreamBooth-LoRA adapters computed in advance.
struct TrainRegressionCommand: Command {
    let name = "train-regression"
    let summary = "train the regression hypernetwork baseline on precomputed DreamBooth-LoRA adapters"
    let description = """
        The HyperDreamBooth-style baseline the field is compared with. First \
        computes the DreamBooth-LoRA adapter θ_S of --subjects training subjects \
        (Adam from the field's θ_0 over the field's slots, S steps), then trains \
        a network of the field's architecture, always queried at s = S, by mean \
        squared error to those adapters. The precomputation's time is printed \
        and stored with the weights, because it is part of this method's cost.

        Precomputed adapters are kept in <run-dir>/targets, so an interrupted \
        run continues where it stopped. The subjects are drawn by class, then \
        subject, with --seed, from the same training split as the field's.

          hyperfield train-regression --subjects 48 --steps 1500
        """

    let training = TrainingOptions(
        defaultSteps: 1500, defaultLearningRate: 1e-3, defaultRunFolder: "out/train-regression", defaultBatchSize: 8,
        batchUnit: "subjects")
    let output = Option.path("output", default: "models/regression.safetensors", help: "where the trained network is written")
    let fieldPath = Option.path("field", default: "models/field.safetensors", help: "field whose slots, rank, θ_0, S and sizes the network copies (a new field's defaults when the file is absent)")
    let autoencoderPath = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "trained autoencoder")
    let denoiserPath = Option.path("denoiser", default: "models/denoiser.safetensors", help: "trained base denoiser")
    let subjectCount = Option.integer("subjects", default: 48, unit: "subjects", minimum: 1, help: "training subjects whose DreamBooth-LoRA adapters are computed")
    let dreamboothSteps = Option.integer("dreambooth-steps", default: 0, unit: "steps", minimum: 0, help: "Adam steps per subject; 0 uses the field's S")
    let dreamboothRate = Option.double("dreambooth-learning-rate", default: 1e-3, unit: "per step", minimum: 0, help: "Adam learning rate of the per-subject runs")
    let draws = Option.integer("draws", default: 4, unit: "draws", minimum: 1, help: "loss draws (image, timestep, noise) per step of the per-subject runs, their batch size")
    let maxInputImages = Option.integer("max-input-images", default: 4, unit: "images", minimum: 1, help: "maximum images of a subject given to the network in one step")

    var options: [any CommandOption] {
        training.all + [output, fieldPath, autoencoderPath, denoiserPath, subjectCount, dreamboothSteps, dreamboothRate,
                        draws, maxInputImages]
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        training.applyThreads(arguments)
        let root = try training.dataRoot(arguments)
        let base = try BaseModels.load(autoencoder: arguments[autoencoderPath], denoiser: arguments[denoiserPath])
        base.denoiser.setTrainable(false)
        let autoencoderHash = try fileSHA256(URL(fileURLWithPath: arguments[autoencoderPath]))
        let denoiserHash = try fileSHA256(URL(fileURLWithPath: arguments[denoiserPath]))

        var configuration = try fieldOrDefaults(
            path: arguments[fieldPath], given: arguments.isGiven(fieldPath), denoiser: base.denoiser, logger: logger
        ).configuration
        let initial = HypernetworkField(configuration).initialAdapter

        let (allSubjects, manifestHash) = try TrainingData.trainingSubjectLatents(
            root: root, base: base, autoencoderHash: autoencoderHash, modelPath: arguments[output], logger: logger)
        let subjects = Self.chooseSubjects(allSubjects, count: arguments[subjectCount], seed: UInt64(arguments[training.seed]))

        // The precomputation: one DreamBooth-LoRA run per subject.
        let steps = arguments[dreamboothSteps] > 0 ? arguments[dreamboothSteps] : configuration.totalSteps
        let runFolder = URL(fileURLWithPath: arguments[training.runFolder])
        let targetFolder = runFolder.appendingPathComponent("targets")
        try FileManager.default.createDirectory(at: targetFolder, withIntermediateDirectories: true)
        let perSubject = PerSubjectTraining(
            method: .adam(learningRate: Float(arguments[dreamboothRate])), steps: steps, drawsPerStep: arguments[draws],
            timestepRange: 0..<base.schedule.timesteps)
        var targets: [Adapter] = []
        var precomputeSeconds = 0.0
        let progress = ProgressReporter(label: "precompute", total: subjects.count, unit: "subjects")
        for (index, subject) in subjects.enumerated() {
            let url = targetFolder.appendingPathComponent(String(format: "%03d.safetensors", index))
            if let saved = try? AdapterFile.read(contentsOf: url), saved.metadata["subject"] == subject.id,
               saved.metadata["steps"] == String(steps), let seconds = Double(saved.metadata["seconds"] ?? "") {
                targets.append(saved)
                precomputeSeconds += seconds
            } else {
                var rng = SeededGenerator(seed: UInt64(arguments[training.seed]) &+ UInt64(index) &+ 1)
                let start = Date()
                var adapter = perSubject.run(
                    denoiser: base.denoiser, schedule: base.schedule, subject: subject, initial: initial,
                    snapshots: [steps], rng: &rng)[steps]!
                let seconds = Date().timeIntervalSince(start)
                adapter.metadata = ["subject": subject.id, "steps": String(steps), "seconds": String(seconds)]
                try AdapterFile.write(adapter, to: url)
                targets.append(adapter)
                precomputeSeconds += seconds
            }
            progress.update(completed: index + 1, fields: [ProgressField("seconds", String(format: "%.0f", precomputeSeconds))])
        }
        progress.finish()
        logger.info(String(
            format: "precomputation: %d DreamBooth-LoRA runs of %d steps took %.1f s (%.1f s per subject)",
            subjects.count, steps, precomputeSeconds, precomputeSeconds / Double(subjects.count)))

        // The network's output unit: H(X, S) = θ_0 + σ·Δ̂ with σ the RMS of
        // θ_S − θ_0, so that Δ̂ is of order 1.
        let sigma = RegressionTrainingTask.meanSquaredOffset(targets, from: initial).squareRoot()
        configuration.gradientScale = max(sigma, .leastNormalMagnitude)
            / (configuration.learningRate * Float(configuration.totalSteps))
        let settings = training.settings(arguments)
        let network = HypernetworkField(configuration, seed: settings.seed)
        let task = RegressionTrainingTask(
            network: network, subjects: subjects, targets: targets, maxInputImages: arguments[maxInputImages],
            metadata: [
                "method": "regression", "data_manifest_sha256": manifestHash, "autoencoder_sha256": autoencoderHash,
                "denoiser_sha256": denoiserHash, "training_command": invokedCommandLine(),
                "precompute_subjects": String(subjects.count), "precompute_steps": String(steps),
                "precompute_draws": String(arguments[draws]),
                "precompute_seconds": String(format: "%.1f", precomputeSeconds),
            ])
        logger.info(String(format: "regression network: %d parameters; RMS of θ_S − θ_0 is %.3e", network.parameterCount, sigma))
        let trainer = Trainer(task: task, settings: settings, store: CheckpointStore(folder: runFolder, keep: settings.keepCheckpoints))
        let trainStart = Date()
        guard try training.train(trainer, arguments, logger: logger) else { return }
        try training.selectSavedWeights(trainer, arguments, logger: logger)
        var metadata = task.modelMetadata
        metadata["step"] = String(trainer.step)
        metadata["training_seconds"] = String(format: "%.1f", Date().timeIntervalSince(trainStart))
        let url = URL(fileURLWithPath: arguments[output])
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ModelFile.save(network, configuration: configuration, kind: "field", metadata: metadata, to: url)
        logger.info("wrote \(url.path)")
    }

    /// Draws `count` subjects by class, then subject, without repeats.
    static func chooseSubjects(_ subjects: [SubjectLatents], count: Int, seed: UInt64) -> [SubjectLatents] {
        var rng = SeededGenerator(seed: seed)
        var pools = Dictionary(grouping: subjects.indices, by: { subjects[$0].classIndex })
            .sorted { $0.key < $1.key }.map { $0.value }
        for index in pools.indices { rng.shuffle(&pools[index]) }
        var chosen: [SubjectLatents] = []
        var round = 0
        while chosen.count < min(count, subjects.count) {
            for pool in pools where round < pool.count && chosen.count < count {
                chosen.append(subjects[pool[round]])
            }
            round += 1
        }
        return chosen
    }
}
