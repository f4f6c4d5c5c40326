/// Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight
/// Decay Regularization", ICLR 2019).
///
/// Each step first shrinks every parameter that has a gradient by
/// `p = p - lr * weightDecay * p`, then applies the plain Adam update of
/// `Adam` (without its L2 term). The decay therefore does not pass through
/// the moments: a weight with zero gradient shrinks by exactly the factor
/// `1 - lr * weightDecay` per step, where Adam's L2 penalty would move it by
/// about `lr` whatever the coefficient. Parameters with a nil gradient are
/// neither decayed nor updated. The decay uses the current learning rate, so
/// a schedule scales it too, as in PyTorch's `AdamW`.
///
/// Checkpoint keys are those of `Adam`, with `optimizer.type` = `AdamW`.
public final class AdamW: Optimizer {
    public var learningRate: Float
    /// Decay rate of the first-moment average, in `[0, 1)`.
    public private(set) var beta1: Float
    /// Decay rate of the second-moment average, in `[0, 1)`.
    public private(set) var beta2: Float
    /// Added to the square root of the second moment to avoid division by
    /// zero; positive.
    public private(set) var epsilon: Float
    /// Fraction of each weight removed per step, per unit of learning rate.
    public private(set) var weightDecay: Float

    var core: AdamCore

    public var parameters: [(name: String, tensor: Tensor)] { core.index.parameters }
    public var stepCount: Int { core.stepCount }

    public init(
        parameters: [(name: String, tensor: Tensor)], learningRate: Float = 1e-3,
        beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01
    ) {
        checkAdamHyperparameters(
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, owner: "AdamW")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        core = AdamCore(parameters: parameters, owner: "AdamW")
    }

    public func step() {
        core.step(
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            l2Decay: 0, decoupledDecay: weightDecay, owner: "AdamW")
    }

    public func stateTensors() -> [String: Tensor] {
        core.stateTensors()
    }

    public func stateMetadata() -> [String: String] {
        core.stateMetadata(
            type: "AdamW", learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay)
    }

    public func restoreState(tensors: [String: Tensor], metadata: [String: String]) throws {
        let saved = try core.readState(tensors: tensors, metadata: metadata, type: "AdamW", owner: "AdamW state")
        learningRate = saved.learningRate
        beta1 = saved.beta1
        beta2 = saved.beta2
        epsilon = saved.epsilon
        weightDecay = saved.weightDecay
        core.apply(saved)
    }
}
