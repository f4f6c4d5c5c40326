import Foundation
import TensorCore

/// A model and the loss it is trained on. The loss draws its own batch,
/// timesteps and noise from the generator it is handed, so restoring the
/// generator's state restores the data order.
public protocol TrainingTask: AnyObject {
    var model: Module { get }
    /// `kind` of the model file (`autoencoder`, `denoiser`, `field`).
    var modelKind: String { get }
    /// The model's configuration as JSON; a checkpoint with another
    /// configuration cannot be resumed.
    var configurationJSON: String { get }
    /// Extra metadata stored with the model weights.
    var modelMetadata: [String: String] { get }
    func loss(step: Int, batchSize: Int, rng: inout SeededGenerator) -> Tensor
}

/// AdamW training loop with warm-up and cosine decay, gradient clipping, an
/// EMA of the weights, checkpoints with exact resume, and events for
/// progress display.
///
/// A resumed run equals an uninterrupted one bit for bit at the same thread
/// count: weights, optimizer moments, EMA, step and generator state all come
/// from the checkpoint.
public final class Trainer {
    public let task: TrainingTask
    public private(set) var settings: TrainingSettings
    public let store: CheckpointStore
    public private(set) var step = 0
    public private(set) var rng: SeededGenerator
    let optimizer: AdamW
    let ema: ExponentialMovingAverage?
    private var lastCheckpoint: URL?

    public init(task: TrainingTask, settings: TrainingSettings, store: CheckpointStore) {
        self.task = task
        self.settings = settings
        self.store = store
        rng = SeededGenerator(seed: settings.seed)
        let parameters = task.model.trainableParameters()
        optimizer = AdamW(parameters: parameters, learningRate: settings.learningRate, weightDecay: settings.weightDecay)
        // Warm-up of the decay ((1 + n) / (10 + n) until it reaches the set
        // decay): without it the average of a run of a few thousand steps
        // still carries a large share of the random initial weights.
        ema = settings.emaDecay > 0
            ? ExponentialMovingAverage(parameters: parameters, decay: settings.emaDecay, usesWarmup: true) : nil
    }

    /// Loads the latest checkpoint of the store, if there is one. Returns the
    /// step it was at, or nil for a new run.
    @discardableResult
    public func resumeIfPossible(warn: (String) -> Void = { _ in }) throws -> Int? {
        guard let checkpoint = try store.latest() else { return nil }
        let state = try SafeTensors.read(contentsOf: checkpoint.appendingPathComponent("state.safetensors"))
        let metadata = state.metadata
        guard let stepText = metadata["trainer.step"], let savedStep = Int(stepText),
              let rngText = metadata["trainer.rng"], let savedConfiguration = metadata["trainer.config"],
              let settingsText = metadata["trainer.settings"],
              let savedSettings = try? JSONDecoder().decode(TrainingSettings.self, from: Data(settingsText.utf8))
        else {
            throw TrainingError.invalidCheckpoint("\(checkpoint.path)/state.safetensors lacks the trainer's metadata; it was not written by this trainer")
        }
        if savedConfiguration != task.configurationJSON {
            let (field, saved, requested) = firstDifference(savedConfiguration, task.configurationJSON)
            throw TrainingError.architectureMismatch(field: field, checkpoint: saved, requested: requested)
        }

        let model = try SafeTensors.read(contentsOf: checkpoint.appendingPathComponent("model.safetensors"))
        try task.model.load(model.tensorsByName)
        try optimizer.restoreState(tensors: state.tensorsByName, metadata: metadata)
        try ema?.restoreState(tensors: state.tensorsByName, metadata: metadata)
        let words = rngText.split(separator: ",").compactMap { UInt64($0) }
        rng = try SeededGenerator(savedState: words)
        step = savedStep
        lastCheckpoint = checkpoint

        // The run continues with the checkpoint's settings; only the total
        // step count may be raised to train further.
        var kept = savedSettings
        kept.steps = settings.steps
        let differences = kept.differences(from: settings)
        if !differences.isEmpty {
            warn("resuming with the checkpoint's training settings, which differ from this command's (defaults included): "
                 + differences.joined(separator: ", ") + "; only the total step count may change on resume")
        }
        settings = kept
        return savedStep
    }

    /// Trains until `settings.steps`, saving checkpoints as configured and at
    /// the end. Returns the final checkpoint's folder.
    ///
    /// - Parameter shouldStop: called after every step with the step number.
    ///   Returning true ends the run early with a checkpoint, and a later run
    ///   resumes from it exactly. Time budgets use it.
    @discardableResult
    public func run(
        shouldStop: (Int) -> Bool = { _ in false }, events: (TrainingEvent) -> Void = { _ in }
    ) throws -> URL {
        let schedule = LearningRateSchedule.warmupCosine(
            peakRate: settings.learningRate, minimumRate: settings.minimumLearningRate,
            warmupSteps: min(settings.warmupSteps, settings.steps), totalSteps: settings.steps)
        events(.started(step: step, totalSteps: settings.steps, resumed: lastCheckpoint != nil))
        let parameters = optimizer.parameters

        while step < settings.steps {
            // Forward on a fresh batch, backward, clip, update.
            optimizer.learningRate = schedule.learningRate(atStep: step)
            let loss = task.loss(step: step, batchSize: settings.batchSize, rng: &rng)
            guard loss.item.isFinite else {
                throw TrainingError.nonFiniteLoss(step: step, lastCheckpoint: lastCheckpoint?.path)
            }
            optimizer.zeroGrad()
            loss.backward()
            let norm = settings.gradientClip > 0
                ? clipGradientNorm(parameters, maxNorm: settings.gradientClip)
                : globalGradientNorm(parameters.map { $0.tensor })
            optimizer.step()
            ema?.update()
            step += 1
            events(.step(step: step, loss: loss.item, learningRate: optimizer.learningRate, gradientNorm: norm))

            if settings.checkpointEvery > 0 && step % settings.checkpointEvery == 0 && step < settings.steps {
                let folder = try saveCheckpoint()
                events(.checkpointSaved(step: step, folder: folder.path))
            }
            if shouldStop(step) { break }
        }
        let folder = try saveCheckpoint()
        events(.checkpointSaved(step: step, folder: folder.path))
        events(.finished(step: step))
        return folder
    }

    /// Writes the current state as `checkpoint-<step>`.
    public func saveCheckpoint() throws -> URL {
        var modelMetadata = task.modelMetadata
        modelMetadata["format"] = "hyperfield.\(task.modelKind)"
        modelMetadata["config"] = task.configurationJSON
        modelMetadata["engine_version"] = ModelFile.engineVersion
        modelMetadata["step"] = String(step)

        var stateMetadata = optimizer.stateMetadata()
        for (key, value) in ema?.stateMetadata() ?? [:] { stateMetadata[key] = value }
        stateMetadata["trainer.step"] = String(step)
        stateMetadata["trainer.rng"] = rng.savedState.map(String.init).joined(separator: ",")
        stateMetadata["trainer.config"] = task.configurationJSON
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        stateMetadata["trainer.settings"] = String(decoding: try encoder.encode(settings), as: UTF8.self)

        var stateTensors = optimizer.stateTensors()
        for (key, value) in ema?.stateTensors() ?? [:] { stateTensors[key] = value }
        let folder = try store.save(
            step: step, model: task.model.namedParameters(), modelMetadata: modelMetadata,
            state: stateTensors.map { ($0.key, $0.value) }, stateMetadata: stateMetadata)
        lastCheckpoint = folder
        return folder
    }

    /// Runs `body` with the EMA weights swapped into the model (the raw
    /// weights when EMA is off), then swaps the raw weights back.
    public func withAverages<T>(_ body: () throws -> T) throws -> T {
        guard let ema else { return try body() }
        return try ema.withAverages(in: task.model, body)
    }

    /// Copies the EMA weights into the model (when EMA is on), for export.
    public func applyAverages() throws {
        try ema?.copyAverages(into: task.model)
    }
}

/// Finds the first top-level key whose value differs between two JSON
/// objects, and returns it with both values as text.
func firstDifference(_ a: String, _ b: String) -> (field: String, a: String, b: String) {
    let left = (try? JSONSerialization.jsonObject(with: Data(a.utf8))) as? [String: Any] ?? [:]
    let right = (try? JSONSerialization.jsonObject(with: Data(b.utf8))) as? [String: Any] ?? [:]
    for key in Set(left.keys).union(right.keys).sorted() {
        let l = left[key].map { "\($0)" } ?? "absent"
        let r = right[key].map { "\($0)" } ?? "absent"
        if l != r {
            return (key, l.replacingOccurrences(of: "\n", with: " "), r.replacingOccurrences(of: "\n", with: " "))
        }
    }
    return ("configuration", a, b)
}
