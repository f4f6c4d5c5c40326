/// Stochastic gradient descent with optional momentum, Nesterov momentum and
/// L2 weight decay, in PyTorch's form without dampening.
///
/// For each parameter `p` with gradient `g`:
///
///     g = g + weightDecay * p              (L2 penalty; off when 0)
///     b = momentum * b + g                 (b starts at 0, so b = g at first)
///     d = nesterov ? g + momentum * b : b  (d = g when momentum is 0)
///     p = p - lr * d
///
/// Checkpoint keys: tensors `sgd.momentum.<name>` (only with momentum);
/// metadata `optimizer.type` = `SGD`, `optimizer.step`,
/// `optimizer.learning_rate`, `optimizer.momentum`, `optimizer.weight_decay`,
/// `optimizer.nesterov`.
public final class SGD: Optimizer {
    public var learningRate: Float
    /// Weight of the previous velocity, in `[0, 1)`; 0 turns momentum off.
    public private(set) var momentum: Float
    /// Coefficient of the L2 penalty added to the gradient; 0 turns it off.
    public private(set) var weightDecay: Float
    /// Whether the step uses Nesterov's look-ahead form of momentum.
    public private(set) var nesterov: Bool

    public private(set) var stepCount = 0
    public var parameters: [(name: String, tensor: Tensor)] { index.parameters }

    private let index: ParameterIndex
    /// Momentum buffer per parameter position, shaped like the parameter; nil
    /// until the parameter's first update or when momentum is 0.
    private var velocities: [[Float]?]

    public init(
        parameters: [(name: String, tensor: Tensor)], learningRate: Float,
        momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false
    ) {
        precondition(learningRate.isFinite && learningRate >= 0, "SGD: learning rate \(learningRate) must be finite and non-negative")
        precondition(momentum >= 0 && momentum < 1, "SGD: momentum \(momentum) must be in [0, 1)")
        precondition(weightDecay.isFinite && weightDecay >= 0, "SGD: weight decay \(weightDecay) must be finite and non-negative")
        precondition(!nesterov || momentum > 0, "SGD: Nesterov momentum needs a momentum above 0")
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        index = ParameterIndex(parameters, owner: "SGD")
        velocities = Array(repeating: nil, count: parameters.count)
    }

    public func step() {
        precondition(learningRate.isFinite && learningRate >= 0, "SGD: learning rate \(learningRate) must be finite and non-negative")
        stepCount += 1
        let rate = learningRate, decay = weightDecay, momentum = momentum, nesterov = nesterov
        for (position, (name, parameter)) in index.parameters.enumerated() {
            guard let grad = gradientForUpdate(of: parameter, name: name, owner: "SGD") else { continue }
            let count = parameter.count
            guard count > 0 else { continue }

            guard momentum > 0 else {
                parameter.data.withUnsafeMutableBufferPointer { parameterBuffer in
                    grad.data.withUnsafeBufferPointer { gradBuffer in
                        let p = SharedPointer(parameterBuffer.baseAddress!)
                        let g = SharedConstPointer(gradBuffer.baseAddress!)
                        parallelFor(count) { range in
                            for i in range {
                                p[i] = p[i] - rate * (g[i] + decay * p[i])
                            }
                        }
                    }
                }
                continue
            }

            if velocities[position] == nil {
                velocities[position] = [Float](repeating: 0, count: count)
            }
            parameter.data.withUnsafeMutableBufferPointer { parameterBuffer in
                grad.data.withUnsafeBufferPointer { gradBuffer in
                    velocities[position]!.withUnsafeMutableBufferPointer { velocityBuffer in
                        let p = SharedPointer(parameterBuffer.baseAddress!)
                        let g = SharedConstPointer(gradBuffer.baseAddress!)
                        let b = SharedPointer(velocityBuffer.baseAddress!)
                        parallelFor(count) { range in
                            if nesterov {
                                for i in range {
                                    let gradient = g[i] + decay * p[i]
                                    let velocity = momentum * b[i] + gradient
                                    b[i] = velocity
                                    p[i] = p[i] - rate * (gradient + momentum * velocity)
                                }
                            } else {
                                for i in range {
                                    let gradient = g[i] + decay * p[i]
                                    let velocity = momentum * b[i] + gradient
                                    b[i] = velocity
                                    p[i] = p[i] - rate * velocity
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    public func stateTensors() -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for (position, (name, parameter)) in index.parameters.enumerated() {
            guard let velocity = velocities[position] else { continue }
            tensors["sgd.momentum." + name] = Tensor(shape: parameter.shape, data: velocity)
        }
        return tensors
    }

    public func stateMetadata() -> [String: String] {
        [
            "optimizer.type": "SGD",
            "optimizer.step": String(stepCount),
            "optimizer.learning_rate": metadataString(learningRate),
            "optimizer.momentum": metadataString(momentum),
            "optimizer.weight_decay": metadataString(weightDecay),
            "optimizer.nesterov": String(nesterov),
        ]
    }

    public func restoreState(tensors: [String: Tensor], metadata: [String: String]) throws {
        let owner = "SGD state"
        let reader = StateMetadataReader(metadata: metadata, owner: owner)
        try reader.requireType("optimizer.type", "SGD")
        let savedStepCount = try reader.count("optimizer.step")
        let savedRate = try reader.float("optimizer.learning_rate")
        let savedMomentum = try reader.float("optimizer.momentum")
        let savedDecay = try reader.float("optimizer.weight_decay")
        let savedNesterov = try reader.bool("optimizer.nesterov")
        guard savedRate >= 0, savedMomentum >= 0, savedMomentum < 1, savedDecay >= 0, !savedNesterov || savedMomentum > 0 else {
            throw TensorCoreError.invalidState(
                "\(owner): saved hyperparameters are out of range (learning rate \(savedRate), momentum \(savedMomentum), weight decay \(savedDecay), nesterov \(savedNesterov))")
        }

        let saved = try index.savedBuffers(tensors, prefix: "sgd.", buffers: ["momentum"], owner: owner)["momentum"]!
        if savedMomentum == 0 && !saved.isEmpty {
            throw TensorCoreError.invalidState(
                "\(owner): momentum buffers were given but the saved momentum is 0; the tensors and metadata come from different runs")
        }
        if savedMomentum > 0 && savedStepCount > 0 && saved.isEmpty {
            throw TensorCoreError.invalidState(
                "\(owner): metadata records \(savedStepCount) steps with momentum \(savedMomentum) but no sgd.momentum tensors were given; pass the tensors saved together with the metadata")
        }

        var restored: [[Float]?] = Array(repeating: nil, count: index.parameters.count)
        for (position, data) in saved {
            restored[position] = data
        }
        learningRate = savedRate
        momentum = savedMomentum
        weightDecay = savedDecay
        nesterov = savedNesterov
        stepCount = savedStepCount
        velocities = restored
    }
}
