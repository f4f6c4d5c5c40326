/// Optimization settings shared by the training commands. Stored in every
/// checkpoint; a resumed run takes them from there.
public struct TrainingSettings: Codable, Equatable, Sendable {
    /// Optimizer steps in the whole run.
    public var steps = 1000
    /// Samples per step.
    public var batchSize = 32
    /// Peak learning rate of AdamW.
    public var learningRate: Float = 2e-4
    /// Steps of linear warm-up from 0 to `learningRate`.
    public var warmupSteps = 200
    /// Learning rate at the end of the cosine decay.
    public var minimumLearningRate: Float = 2e-5
    /// AdamW's decoupled weight decay.
    public var weightDecay: Float = 0.0
    /// Maximum global gradient norm; 0 disables clipping.
    public var gradientClip: Float = 1.0
    /// Decay of the exponential moving average of the weights; 0 disables it.
    public var emaDecay: Float = 0.999
    /// Seed of the run's random generator (data order, timesteps, noise).
    public var seed: UInt64 = 0
    /// Steps between checkpoints; 0 saves only at the end.
    public var checkpointEvery = 500
    /// Checkpoints kept; older ones are deleted.
    public var keepCheckpoints = 3

    public init() {}

    /// Lists each setting that differs from `other` as "name value (given
    /// other value)", in a fixed order, for the warning of a resumed run.
    public func differences(from other: TrainingSettings) -> [String] {
        let pairs: [(String, String, String)] = [
            ("steps", "\(steps)", "\(other.steps)"),
            ("batch size", "\(batchSize)", "\(other.batchSize)"),
            ("learning rate", "\(learningRate)", "\(other.learningRate)"),
            ("warm-up steps", "\(warmupSteps)", "\(other.warmupSteps)"),
            ("minimum learning rate", "\(minimumLearningRate)", "\(other.minimumLearningRate)"),
            ("weight decay", "\(weightDecay)", "\(other.weightDecay)"),
            ("gradient clip", "\(gradientClip)", "\(other.gradientClip)"),
            ("EMA decay", "\(emaDecay)", "\(other.emaDecay)"),
            ("seed", "\(seed)", "\(other.seed)"),
            ("checkpoint every", "\(checkpointEvery)", "\(other.checkpointEvery)"),
            ("checkpoints kept", "\(keepCheckpoints)", "\(other.keepCheckpoints)"),
        ]
        return pairs.filter { $0.1 != $0.2 }.map { "\($0.0) \($0.1) (given \($0.2))" }
    }
}

/// Progress report of a trainer while it runs.
public enum TrainingEvent {
    case started(step: Int, totalSteps: Int, resumed: Bool)
    /// One optimizer step finished; `loss` is that step's loss.
    case step(step: Int, loss: Float, learningRate: Float, gradientNorm: Float)
    case checkpointSaved(step: Int, folder: String)
    case finished(step: Int)
}

/// Errors that stop a training run.
public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(step: Int, lastCheckpoint: String?)
    case architectureMismatch(field: String, checkpoint: String, requested: String)
    case invalidCheckpoint(String)

    public var description: String {
        switch self {
        case .nonFiniteLoss(let step, let checkpoint):
            let resume = checkpoint.map { "the last good checkpoint is \($0); resume from it with a lower learning rate" }
                ?? "no checkpoint was saved yet; restart with a lower learning rate"
            return "training stopped: the loss is NaN or infinite at step \(step); \(resume)"
        case .architectureMismatch(let field, let checkpoint, let requested):
            return "cannot resume: the checkpoint's \(field) is \(checkpoint) but this run asks for \(requested); resume with the checkpoint's value or start a new run in another folder"
        case .invalidCheckpoint(let message):
            return message
        }
    }
}
