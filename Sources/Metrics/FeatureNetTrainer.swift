import Foundation
import TensorCore

/// Optimization settings of a feature net's training run.
public struct FeatureTrainingSettings: Codable, Equatable, Sendable {
    /// Optimizer steps in the whole run.
    public var steps = 1000
    /// Images (self-distillation) or image pairs (contrastive) per step.
    public var batchSize = 64
    /// Peak AdamW learning rate.
    public var learningRate: Float = 1e-3
    /// Steps of linear warm-up to the peak rate.
    public var warmupSteps = 50
    /// Learning rate at the end of the cosine decay.
    public var minimumLearningRate: Float = 1e-5
    /// AdamW's decoupled weight decay.
    public var weightDecay: Float = 1e-4
    /// Maximum global gradient norm. 0 disables clipping.
    public var gradientClip: Float = 3
    /// Seed of the data order and the augmentations. The net's weights take
    /// their own seed.
    public var seed: UInt64 = 0
    /// Training time after which the run stops early, in seconds, or 0 for
    /// no limit. The schedules still follow `steps`.
    public var maximumSeconds: Double = 0

    public init() {}
}

/// Progress report of a feature net's training run.
public enum FeatureTrainingEvent {
    /// One optimizer step finished. `diagnostics` come from the objective.
    case step(step: Int, loss: Float, learningRate: Float, gradientNorm: Float, diagnostics: [(name: String, value: Float)])
}

/// The outcome of a training run.
public struct FeatureTrainingSummary: Sendable {
    /// Optimizer steps taken, fewer than planned when the time limit stopped
    /// the run.
    public let steps: Int
    /// Wall-clock seconds of the training loop.
    public let seconds: Double
    /// Processor seconds the whole process spent during the loop, on all
    /// threads.
    public let cpuSeconds: Double
    /// Mean loss over the first and the last (up to) 50 steps.
    public let initialLoss: Float
    public let finalLoss: Float
}

/// Errors that stop a feature net's training run.
public enum FeatureTrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(step: Int)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let step):
            return "feature net training stopped: the loss is NaN or infinite at step \(step); rerun with a lower --learning-rate"
        }
    }
}

/// AdamW loop with linear warm-up and cosine decay, global-norm gradient
/// clipping and an optional time limit, for the feature nets.
///
/// NOTE: unlike the diffusion trainer this loop writes no checkpoints, so a
/// run stopped early cannot be resumed.
public final class FeatureNetTrainer {
    public let objective: FeatureTrainingObjective
    public let settings: FeatureTrainingSettings
    let optimizer: AdamW
    private var rng: SeededGenerator

    public init(objective: FeatureTrainingObjective, settings: FeatureTrainingSettings) {
        self.objective = objective
        self.settings = settings
        optimizer = AdamW(
            parameters: objective.net.trainableParameters(), learningRate: settings.learningRate,
            weightDecay: settings.weightDecay)
        rng = SeededGenerator(seed: settings.seed)
    }

    /// Trains for `settings.steps` steps or until the time limit, whichever
    /// comes first.
    public func run(events: (FeatureTrainingEvent) -> Void = { _ in }) throws -> FeatureTrainingSummary {
        let schedule = LearningRateSchedule.warmupCosine(
            peakRate: settings.learningRate, minimumRate: min(settings.minimumLearningRate, settings.learningRate),
            warmupSteps: min(settings.warmupSteps, settings.steps), totalSteps: settings.steps)
        let parameters = optimizer.parameters
        let start = Date()
        let cpuStart = processCPUSeconds()
        var losses: [Float] = []
        var step = 0

        while step < settings.steps {
            // Sample and forward inside the objective, then backward, clip, update.
            let progress = Float(step) / Float(settings.steps)
            optimizer.learningRate = schedule.learningRate(atStep: step)
            let loss = objective.loss(batchSize: settings.batchSize, progress: progress, rng: &rng)
            guard loss.item.isFinite else { throw FeatureTrainingError.nonFiniteLoss(step: step) }
            optimizer.zeroGrad()
            loss.backward()
            let norm = settings.gradientClip > 0
                ? clipGradientNorm(parameters, maxNorm: settings.gradientClip)
                : globalGradientNorm(parameters.map(\.tensor))
            optimizer.step()
            step += 1
            objective.didUpdate(progress: Float(step) / Float(settings.steps))

            losses.append(loss.item)
            events(.step(
                step: step, loss: loss.item, learningRate: optimizer.learningRate, gradientNorm: norm,
                diagnostics: objective.diagnostics))
            if settings.maximumSeconds > 0 && Date().timeIntervalSince(start) >= settings.maximumSeconds { break }
        }

        let window = min(50, losses.count)
        let mean = { (values: ArraySlice<Float>) -> Float in values.isEmpty ? .nan : values.reduce(0, +) / Float(values.count) }
        return FeatureTrainingSummary(
            steps: step, seconds: Date().timeIntervalSince(start), cpuSeconds: processCPUSeconds() - cpuStart,
            initialLoss: mean(losses.prefix(window)), finalLoss: mean(losses.suffix(window)))
    }
}

/// Processor time of the whole process, user and system, in seconds.
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
}
