import TensorCore

/// A feature net's training loss. The objective draws its own images and
/// views from the generator it is handed, so the seed fixes the run.
public protocol FeatureTrainingObjective: AnyObject {
    /// The net whose parameters the optimizer updates.
    var net: FeatureNet { get }

    /// Draws a batch of `batchSize` images (or image pairs) and returns the
    /// scalar loss with its tape. `progress` is the fraction of the run done,
    /// in [0, 1], for schedules inside the objective.
    func loss(batchSize: Int, progress: Float, rng: inout SeededGenerator) -> Tensor

    /// Runs after each optimizer step, for state that follows the net (the
    /// DINO teacher). `progress` is the fraction of the run done.
    func didUpdate(progress: Float)

    /// Values worth logging about the last `loss` call, by name.
    var diagnostics: [(name: String, value: Float)] { get }
}

extension FeatureTrainingObjective {
    public func didUpdate(progress: Float) {}
    public var diagnostics: [(name: String, value: Float)] { [] }
}
