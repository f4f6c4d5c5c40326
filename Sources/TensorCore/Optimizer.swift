/// An update rule that moves named parameters against their accumulated
/// gradients.
///
/// An optimizer is built from a list of dotted-name parameters, usually
/// `model.trainableParameters()`, and keeps its per-parameter state under
/// those names, so the state round-trips through a checkpoint. A training
/// step reads:
///
///     optimizer.zeroGrad()
///     let loss = ...            // forward
///     loss.backward()
///     optimizer.learningRate = schedule.learningRate(atStep: step)
///     optimizer.step()
public protocol Optimizer: AnyObject {
    /// The parameters this optimizer updates, in construction order.
    var parameters: [(name: String, tensor: Tensor)] { get }

    /// Step size used by the next `step()`. Schedules set it before each step.
    var learningRate: Float { get set }

    /// Number of `step()` calls so far, including those before a restore.
    var stepCount: Int { get }

    /// Updates every parameter that has a gradient in place. Parameters whose
    /// `grad` is nil are skipped and their state is left as it was.
    func step()

    /// Sets the gradient of every parameter to nil.
    func zeroGrad()

    /// Per-parameter state (moments, momentum buffers) keyed
    /// `<optimizer>.<buffer>.<parameter name>`, for a checkpoint. The tensors
    /// are snapshots: later steps do not change them.
    func stateTensors() -> [String: Tensor]

    /// Step counts and hyperparameters as strings, for the `__metadata__` of a
    /// checkpoint. Floats are written in their shortest exact form, so a
    /// restore reads back the same bits.
    func stateMetadata() -> [String: String]

    /// Replaces the state with one saved by `stateTensors()` and
    /// `stateMetadata()`, so that the next steps continue the saved run bit for
    /// bit. The saved hyperparameters (learning rate included) replace the
    /// current ones; set them again afterwards to override.
    ///
    /// Keys that belong to neither this optimizer's tensors nor its metadata
    /// are ignored, so one dictionary can carry model weights and optimizer
    /// state together. Nothing changes when an error is thrown.
    ///
    /// - Throws: `TensorCoreError.invalidState` when another optimizer type
    ///   wrote the metadata, or a value is missing or malformed.
    ///   `TensorCoreError.missingParameter` when a saved entry names no
    ///   parameter, or a parameter's entries are incomplete.
    ///   `TensorCoreError.shapeMismatch` when a saved tensor's shape differs
    ///   from its parameter's. Messages name the parameter and both shapes.
    func restoreState(tensors: [String: Tensor], metadata: [String: String]) throws
}

extension Optimizer {
    public func zeroGrad() {
        for (_, tensor) in parameters {
            tensor.grad = nil
        }
    }
}

/// Stops with a message when two parameters share a name, because optimizer
/// and EMA state is keyed by name.
func checkUniqueNames(_ parameters: [(name: String, tensor: Tensor)], owner: String) {
    var seen = Set<String>()
    for (name, _) in parameters {
        precondition(seen.insert(name).inserted, "\(owner): parameter name \(name) appears twice")
    }
}

/// Returns the gradient of `parameter`, or nil when it has none. Stops when
/// the gradient's element count differs from the parameter's.
func gradientForUpdate(of parameter: Tensor, name: String, owner: String) -> Tensor? {
    guard let grad = parameter.grad else { return nil }
    precondition(
        grad.count == parameter.count,
        "\(owner): gradient of parameter \(name) has shape \(grad.shape) but the parameter has shape \(parameter.shape)")
    return grad
}
