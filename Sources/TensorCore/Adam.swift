import Foundation

/// Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", 2015),
/// with optional L2 weight decay added to the gradient.
///
/// For each parameter `p` with gradient `g`, at that parameter's update
/// number `t` (1 on its first update):
///
///     g = g + weightDecay * p                  (L2 penalty; off when 0)
///     m = beta1 * m + (1 - beta1) * g
///     v = beta2 * v + (1 - beta2) * g²
///     p = p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
///
/// `t` counts only the steps in which the parameter had a gradient, as
/// PyTorch does, so a parameter that joins training late gets the same
/// bias correction as a new one. The L2 term passes through the moments and
/// is therefore rescaled per element; `AdamW` decays the weights directly
/// instead.
///
/// Checkpoint keys: tensors `adam.m.<name>` and `adam.v.<name>`; metadata
/// `optimizer.type` = `Adam`, `optimizer.step`, `optimizer.learning_rate`,
/// `optimizer.beta1`, `optimizer.beta2`, `optimizer.epsilon`,
/// `optimizer.weight_decay`, and `adam.step.<name>` per parameter.
public final class Adam: Optimizer {
    public var learningRate: Float
    /// Decay rate of the first-moment average, in `[0, 1)`.
    public private(set) var beta1: Float
    /// Decay rate of the second-moment average, in `[0, 1)`.
    public private(set) var beta2: Float
    /// Added to the square root of the second moment to avoid division by
    /// zero; positive.
    public private(set) var epsilon: Float
    /// Coefficient of the L2 penalty added to the gradient; 0 turns it off.
    public private(set) var weightDecay: Float

    var core: AdamCore

    public var parameters: [(name: String, tensor: Tensor)] { core.index.parameters }
    public var stepCount: Int { core.stepCount }

    public init(
        parameters: [(name: String, tensor: Tensor)], learningRate: Float = 1e-3,
        beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0
    ) {
        checkAdamHyperparameters(
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, owner: "Adam")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        core = AdamCore(parameters: parameters, owner: "Adam")
    }

    public func step() {
        core.step(
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            l2Decay: weightDecay, decoupledDecay: 0, owner: "Adam")
    }

    public func stateTensors() -> [String: Tensor] {
        core.stateTensors()
    }

    public func stateMetadata() -> [String: String] {
        core.stateMetadata(
            type: "Adam", learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay)
    }

    public func restoreState(tensors: [String: Tensor], metadata: [String: String]) throws {
        let saved = try core.readState(tensors: tensors, metadata: metadata, type: "Adam", owner: "Adam state")
        learningRate = saved.learningRate
        beta1 = saved.beta1
        beta2 = saved.beta2
        epsilon = saved.epsilon
        weightDecay = saved.weightDecay
        core.apply(saved)
    }
}

/// Stops with a message naming the optimizer when a hyperparameter is out of
/// range.
func checkAdamHyperparameters(
    learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float, owner: String
) {
    precondition(learningRate.isFinite && learningRate >= 0, "\(owner): learning rate \(learningRate) must be finite and non-negative")
    precondition(beta1 >= 0 && beta1 < 1, "\(owner): beta1 \(beta1) must be in [0, 1)")
    precondition(beta2 >= 0 && beta2 < 1, "\(owner): beta2 \(beta2) must be in [0, 1)")
    precondition(epsilon.isFinite && epsilon > 0, "\(owner): epsilon \(epsilon) must be finite and positive")
    precondition(weightDecay.isFinite && weightDecay >= 0, "\(owner): weight decay \(weightDecay) must be finite and non-negative")
}

/// Moment estimates of one parameter.
final class AdamMoments {
    /// First moment, shaped like the parameter.
    var m: [Float]
    /// Second moment, shaped like the parameter.
    var v: [Float]
    /// Updates applied to this parameter so far: the `t` of bias correction.
    var step: Int

    init(m: [Float], v: [Float], step: Int) {
        self.m = m
        self.v = v
        self.step = step
    }
}

/// Scalars of one update of one parameter, computed once per parameter so
/// that the element loop does only float arithmetic.
struct AdamCoefficients: Sendable {
    let beta1: Float
    let oneMinusBeta1: Float
    let beta2: Float
    let oneMinusBeta2: Float
    /// `lr / (1 - beta1^t)`.
    let stepSize: Float
    /// `1 / sqrt(1 - beta2^t)`.
    let inverseRootBiasCorrection2: Float
    let epsilon: Float
    /// L2 coefficient added to the gradient (`Adam.weightDecay`, 0 for AdamW).
    let l2Decay: Float
    /// `lr * weightDecay` of AdamW, 0 for Adam.
    let decoupledDecay: Float
}

/// Applies one Adam or AdamW update to `count` consecutive elements. A zero
/// `l2Decay` or `decoupledDecay` leaves every finite value unchanged, so one
/// branch-free loop serves both optimizers.
///
/// The main loop works on four lanes, and `squareRoot` keeps it vectorized.
/// The tail repeats the same operations in the same order on single
/// elements, so every element gets the same bits wherever a chunk boundary
/// falls.
@inline(__always)
func adamUpdate(
    parameter p: UnsafeMutablePointer<Float>, gradient g: UnsafePointer<Float>,
    m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, _ c: AdamCoefficients
) {
    let beta1 = FloatVector(repeating: c.beta1)
    let oneMinusBeta1 = FloatVector(repeating: c.oneMinusBeta1)
    let beta2 = FloatVector(repeating: c.beta2)
    let oneMinusBeta2 = FloatVector(repeating: c.oneMinusBeta2)
    let stepSize = FloatVector(repeating: c.stepSize)
    let inverseRootBiasCorrection2 = FloatVector(repeating: c.inverseRootBiasCorrection2)
    let epsilon = FloatVector(repeating: c.epsilon)
    let l2Decay = FloatVector(repeating: c.l2Decay)
    let decoupledDecay = FloatVector(repeating: c.decoupledDecay)

    var i = 0
    while i + FloatVector.scalarCount <= count {
        let parameter = p.vector(at: i)
        let gradient = g.vector(at: i) + l2Decay * parameter
        let mean = beta1 * m.vector(at: i) + oneMinusBeta1 * gradient
        let variance = beta2 * v.vector(at: i) + oneMinusBeta2 * (gradient * gradient)
        m.storeVector(mean, at: i)
        v.storeVector(variance, at: i)
        let denominator = squareRoot(variance) * inverseRootBiasCorrection2 + epsilon
        let decayed = parameter - decoupledDecay * parameter
        p.storeVector(decayed - stepSize * mean / denominator, at: i)
        i += FloatVector.scalarCount
    }

    while i < count {
        let gradient = g[i] + c.l2Decay * p[i]
        let mean = c.beta1 * m[i] + c.oneMinusBeta1 * gradient
        let variance = c.beta2 * v[i] + c.oneMinusBeta2 * (gradient * gradient)
        m[i] = mean
        v[i] = variance
        let denominator = variance.squareRoot() * c.inverseRootBiasCorrection2 + c.epsilon
        let decayed = p[i] - c.decoupledDecay * p[i]
        p[i] = decayed - c.stepSize * mean / denominator
        i += 1
    }
}

/// Hyperparameters and state read from a checkpoint, validated and not yet
/// applied.
struct SavedAdamState {
    let learningRate: Float
    let beta1: Float
    let beta2: Float
    let epsilon: Float
    let weightDecay: Float
    let stepCount: Int
    let moments: [AdamMoments?]
}

/// Parameters, moments and step counts shared by `Adam` and `AdamW`.
struct AdamCore {
    let index: ParameterIndex
    /// Moments per parameter position; nil until the parameter's first update.
    var moments: [AdamMoments?]
    var stepCount = 0

    init(parameters: [(name: String, tensor: Tensor)], owner: String) {
        index = ParameterIndex(parameters, owner: owner)
        moments = Array(repeating: nil, count: parameters.count)
    }

    mutating func step(
        learningRate: Float, beta1: Float, beta2: Float, epsilon: Float,
        l2Decay: Float, decoupledDecay: Float, owner: String
    ) {
        precondition(learningRate.isFinite && learningRate >= 0, "\(owner): learning rate \(learningRate) must be finite and non-negative")
        stepCount += 1
        for (position, (name, parameter)) in index.parameters.enumerated() {
            guard let grad = gradientForUpdate(of: parameter, name: name, owner: owner) else { continue }
            let state: AdamMoments
            if let existing = moments[position] {
                state = existing
            } else {
                let zeros = [Float](repeating: 0, count: parameter.count)
                state = AdamMoments(m: zeros, v: zeros, step: 0)
                moments[position] = state
            }
            state.step += 1

            // Bias corrections in Double: beta^t underflows gracefully and
            // 1 - beta2^t loses no digits for small t.
            let t = Double(state.step)
            let biasCorrection1 = 1 - Foundation.pow(Double(beta1), t)
            let biasCorrection2 = 1 - Foundation.pow(Double(beta2), t)
            let coefficients = AdamCoefficients(
                beta1: beta1, oneMinusBeta1: 1 - beta1, beta2: beta2, oneMinusBeta2: 1 - beta2,
                stepSize: Float(Double(learningRate) / biasCorrection1),
                inverseRootBiasCorrection2: Float(1 / biasCorrection2.squareRoot()),
                epsilon: epsilon, l2Decay: l2Decay, decoupledDecay: learningRate * decoupledDecay)

            let count = parameter.count
            guard count > 0 else { continue }
            parameter.data.withUnsafeMutableBufferPointer { parameterBuffer in
                grad.data.withUnsafeBufferPointer { gradBuffer in
                    state.m.withUnsafeMutableBufferPointer { mBuffer in
                        state.v.withUnsafeMutableBufferPointer { vBuffer in
                            let p = SharedPointer(parameterBuffer.baseAddress!)
                            let g = SharedConstPointer(gradBuffer.baseAddress!)
                            let m = SharedPointer(mBuffer.baseAddress!)
                            let v = SharedPointer(vBuffer.baseAddress!)
                            parallelFor(count) { range in
                                let start = range.lowerBound
                                adamUpdate(
                                    parameter: p.base + start, gradient: g.base + start,
                                    m: m.base + start, v: v.base + start, count: range.count, coefficients)
                            }
                        }
                    }
                }
            }
        }
    }

    func stateTensors() -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for (position, (name, parameter)) in index.parameters.enumerated() {
            guard let state = moments[position] else { continue }
            // The arrays are copied on the next write, so these stay snapshots.
            tensors["adam.m." + name] = Tensor(shape: parameter.shape, data: state.m)
            tensors["adam.v." + name] = Tensor(shape: parameter.shape, data: state.v)
        }
        return tensors
    }

    func stateMetadata(
        type: String, learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    ) -> [String: String] {
        var metadata: [String: String] = [
            "optimizer.type": type,
            "optimizer.step": String(stepCount),
            "optimizer.learning_rate": metadataString(learningRate),
            "optimizer.beta1": metadataString(beta1),
            "optimizer.beta2": metadataString(beta2),
            "optimizer.epsilon": metadataString(epsilon),
            "optimizer.weight_decay": metadataString(weightDecay),
        ]
        for (position, (name, _)) in index.parameters.enumerated() {
            guard let state = moments[position] else { continue }
            metadata["adam.step." + name] = String(state.step)
        }
        return metadata
    }

    /// Parses and validates a saved state without changing `self`.
    func readState(
        tensors: [String: Tensor], metadata: [String: String], type: String, owner: String
    ) throws -> SavedAdamState {
        let reader = StateMetadataReader(metadata: metadata, owner: owner)
        try reader.requireType("optimizer.type", type)
        let learningRate = try reader.float("optimizer.learning_rate")
        let beta1 = try reader.float("optimizer.beta1")
        let beta2 = try reader.float("optimizer.beta2")
        let epsilon = try reader.float("optimizer.epsilon")
        let weightDecay = try reader.float("optimizer.weight_decay")
        let stepCount = try reader.count("optimizer.step")
        guard learningRate >= 0, beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1, epsilon > 0, weightDecay >= 0 else {
            throw TensorCoreError.invalidState(
                "\(owner): saved hyperparameters are out of range (learning rate \(learningRate), beta1 \(beta1), beta2 \(beta2), epsilon \(epsilon), weight decay \(weightDecay))")
        }

        let buffers = try index.savedBuffers(tensors, prefix: "adam.", buffers: ["m", "v"], owner: owner)
        let steps = try index.savedCounts(metadata, prefix: "adam.step.", owner: owner)
        let firstMoments = buffers["m"]!
        let secondMoments = buffers["v"]!
        if stepCount > 0 && firstMoments.isEmpty && secondMoments.isEmpty {
            throw TensorCoreError.invalidState(
                "\(owner): metadata records \(stepCount) steps but no adam.m or adam.v tensors were given; pass the tensors saved together with the metadata")
        }

        var restored: [AdamMoments?] = Array(repeating: nil, count: index.parameters.count)
        for (position, (name, _)) in index.parameters.enumerated() {
            let m = firstMoments[position]
            let v = secondMoments[position]
            let step = steps[position]
            if m == nil && v == nil && step == nil { continue }
            guard let m, let v, let step else {
                let found = [("adam.m.", m != nil), ("adam.v.", v != nil), ("adam.step.", step != nil)]
                let missing = found.filter { !$0.1 }.map { $0.0 + name }.joined(separator: ", ")
                throw TensorCoreError.missingParameter("\(owner): parameter \(name) has partial state; \(missing) is missing")
            }
            guard step >= 1 && step <= stepCount else {
                throw TensorCoreError.invalidState(
                    "\(owner): adam.step.\(name) = \(step) must be between 1 and optimizer.step = \(stepCount)")
            }
            restored[position] = AdamMoments(m: m, v: v, step: step)
        }
        return SavedAdamState(
            learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
            weightDecay: weightDecay, stepCount: stepCount, moments: restored)
    }

    mutating func apply(_ saved: SavedAdamState) {
        moments = saved.moments
        stepCount = saved.stepCount
    }
}
