/// Exponential moving average (EMA) of parameters, kept as shadow copies
/// keyed by dotted parameter name, for evaluating and sampling with smoothed
/// weights.
///
/// The shadows start as copies of the parameters. Update number `n` (from 0)
/// applies
///
///     d = usesWarmup ? min(decay, (1 + n) / (10 + n)) : decay
///     shadow = shadow + (1 - d) * (parameter - shadow)
///
/// which equals `d * shadow + (1 - d) * parameter`. The warm-up is the
/// `num_updates` rule of TensorFlow's `tf.train.ExponentialMovingAverage`:
/// early averages follow the parameters instead of staying near the
/// initialization.
///
/// To evaluate with the averages, swap them into the model and back:
///
///     try ema.withAverages(in: model) { sample(model) }
///
/// Checkpoint keys: tensors `ema.<name>`; metadata `ema.decay`,
/// `ema.warmup` (`true` or `false`) and `ema.update_count`.
public final class ExponentialMovingAverage {
    /// The averaged parameters, in construction order.
    public var parameters: [(name: String, tensor: Tensor)] { index.parameters }
    /// Weight of the old average in each update, in `[0, 1]`.
    public private(set) var decay: Float
    /// Whether early updates use a smaller decay (see the type's formula).
    public private(set) var usesWarmup: Bool
    /// Number of `update()` calls, including those before a restore.
    public private(set) var updateCount = 0
    /// Whether the averages are swapped into a module, so that the shadows
    /// hold that module's weights until the next swap.
    public var isSwapped: Bool { swappedTargets != nil }

    private let index: ParameterIndex
    /// Shadow per parameter position, shaped like the parameter.
    private var shadows: [[Float]]
    /// The module parameters that hold the averages while they are swapped in.
    private var swappedTargets: [Tensor]?

    public init(parameters: [(name: String, tensor: Tensor)], decay: Float = 0.999, usesWarmup: Bool = false) {
        precondition(decay >= 0 && decay <= 1, "ExponentialMovingAverage: decay \(decay) must be in [0, 1]")
        self.decay = decay
        self.usesWarmup = usesWarmup
        index = ParameterIndex(parameters, owner: "ExponentialMovingAverage")
        shadows = parameters.map { $0.tensor.data }
    }

    /// The decay the next `update()` applies.
    public var nextDecay: Float {
        guard usesWarmup else { return decay }
        let warmupDecay = Float((1 + Double(updateCount)) / (10 + Double(updateCount)))
        return Swift.min(decay, warmupDecay)
    }

    /// Moves every shadow toward its parameter's current value.
    public func update() {
        precondition(!isSwapped, "ExponentialMovingAverage.update: the averages are swapped into a module; swap them back first")
        let rate = 1 - nextDecay
        updateCount += 1
        for (position, (name, parameter)) in index.parameters.enumerated() {
            precondition(
                parameter.count == shadows[position].count,
                "ExponentialMovingAverage.update: parameter \(name) now has shape \(parameter.shape) and \(parameter.count) elements, but its average has \(shadows[position].count)")
            let count = parameter.count
            guard count > 0 else { continue }
            shadows[position].withUnsafeMutableBufferPointer { shadowBuffer in
                parameter.data.withUnsafeBufferPointer { parameterBuffer in
                    let s = SharedPointer(shadowBuffer.baseAddress!)
                    let p = SharedConstPointer(parameterBuffer.baseAddress!)
                    parallelFor(count) { range in
                        for i in range {
                            s[i] = s[i] + rate * (p[i] - s[i])
                        }
                    }
                }
            }
        }
    }

    /// Returns a copy of the average of parameter `name`, or nil when no
    /// averaged parameter has that name.
    public func average(named name: String) -> Tensor? {
        precondition(!isSwapped, "ExponentialMovingAverage.average: the averages are swapped into a module; swap them back first")
        guard let position = index.parameters.firstIndex(where: { $0.name == name }) else { return nil }
        return Tensor(shape: index.parameters[position].tensor.shape, data: shadows[position])
    }

    /// Writes the averages into the parameters of `module` with the same
    /// dotted names. Module parameters without an average are left alone.
    ///
    /// - Throws: `missingParameter` when an averaged name is not a parameter
    ///   of `module`, `shapeMismatch` when shapes differ. Nothing is written
    ///   then.
    public func copyAverages(into module: Module) throws {
        precondition(!isSwapped, "ExponentialMovingAverage.copyAverages: the averages are swapped into a module; swap them back first")
        let targets = try matchingParameters(in: module)
        for (position, target) in targets.enumerated() {
            target.data = shadows[position]
        }
    }

    /// Sets the averages to the current values of the parameters of `module`
    /// with the same dotted names, for example to restart averaging.
    ///
    /// - Throws: as `copyAverages(into:)`.
    public func copyParameters(from module: Module) throws {
        precondition(!isSwapped, "ExponentialMovingAverage.copyParameters: the averages are swapped into a module; swap them back first")
        let sources = try matchingParameters(in: module)
        for (position, source) in sources.enumerated() {
            shadows[position] = source.data
        }
    }

    /// Exchanges the averages with the values of the parameters of `module`
    /// with the same dotted names, without copying elements. A second call
    /// with the same module swaps back. `update()` stops while the averages
    /// are swapped in.
    ///
    /// - Throws: as `copyAverages(into:)`; nothing is swapped then.
    public func swapAverages(with module: Module) throws {
        let targets = try matchingParameters(in: module)
        if let swappedTargets {
            precondition(
                zip(swappedTargets, targets).allSatisfy { $0 === $1 },
                "ExponentialMovingAverage.swapAverages: the averages are swapped into another module; swap them back there first")
        }
        exchange(with: targets)
    }

    /// Runs `body` with the averages swapped into `module`, and swaps them
    /// back afterwards, also when `body` throws.
    ///
    /// - Throws: as `copyAverages(into:)`, or what `body` throws.
    public func withAverages<T>(in module: Module, _ body: () throws -> T) throws -> T {
        precondition(!isSwapped, "ExponentialMovingAverage.withAverages: the averages are already swapped into a module")
        let targets = try matchingParameters(in: module)
        exchange(with: targets)
        defer { exchange(with: targets) }
        return try body()
    }

    /// Returns the averages keyed `ema.<name>`, for a checkpoint.
    public func stateTensors() -> [String: Tensor] {
        precondition(!isSwapped, "ExponentialMovingAverage.stateTensors: the averages are swapped into a module; swap them back first")
        var tensors: [String: Tensor] = [:]
        for (position, (name, parameter)) in index.parameters.enumerated() {
            tensors["ema." + name] = Tensor(shape: parameter.shape, data: shadows[position])
        }
        return tensors
    }

    /// Returns decay, warm-up and update count as strings, for a checkpoint.
    public func stateMetadata() -> [String: String] {
        [
            "ema.decay": metadataString(decay),
            "ema.warmup": String(usesWarmup),
            "ema.update_count": String(updateCount),
        ]
    }

    /// Replaces the averages, decay, warm-up and update count with those
    /// saved by `stateTensors()` and `stateMetadata()`. Keys outside `ema.`
    /// are ignored. Nothing changes when an error is thrown.
    ///
    /// - Throws: `invalidState` when metadata is missing or malformed,
    ///   `missingParameter` when a saved name is not averaged here or an
    ///   averaged parameter has no saved tensor, `shapeMismatch` when shapes
    ///   differ. Messages name the parameter and both shapes.
    public func restoreState(tensors: [String: Tensor], metadata: [String: String]) throws {
        precondition(!isSwapped, "ExponentialMovingAverage.restoreState: the averages are swapped into a module; swap them back first")
        let owner = "EMA state"
        let reader = StateMetadataReader(metadata: metadata, owner: owner)
        let savedDecay = try reader.float("ema.decay")
        let savedWarmup = try reader.bool("ema.warmup")
        let savedCount = try reader.count("ema.update_count")
        guard savedDecay >= 0 && savedDecay <= 1 else {
            throw TensorCoreError.invalidState("\(owner): saved decay \(savedDecay) is outside [0, 1]")
        }

        let saved = try index.savedTensors(tensors, prefix: "ema.", owner: owner)
        var restored = shadows
        for (position, (name, _)) in index.parameters.enumerated() {
            guard let data = saved[position] else {
                throw TensorCoreError.missingParameter("\(owner): parameter \(name) has no saved average ema.\(name)")
            }
            restored[position] = data
        }
        decay = savedDecay
        usesWarmup = savedWarmup
        updateCount = savedCount
        shadows = restored
    }

    /// Looks up the parameters of `module` named like the averaged ones, in
    /// this object's order, and checks their shapes.
    private func matchingParameters(in module: Module) throws -> [Tensor] {
        var byName: [String: Tensor] = [:]
        for (name, tensor) in module.namedParameters() {
            byName[name] = tensor
        }
        return try index.parameters.enumerated().map { position, entry in
            guard let target = byName[entry.name] else {
                throw TensorCoreError.missingParameter(
                    "ExponentialMovingAverage: parameter \(entry.name) is not in the module; pass the module whose parameters were averaged")
            }
            let averageShape = entry.tensor.shape
            guard target.shape == averageShape, target.count == shadows[position].count else {
                throw TensorCoreError.shapeMismatch(
                    "ExponentialMovingAverage: parameter \(entry.name) has shape \(target.shape) in the module but \(averageShape) in the average")
            }
            return target
        }
    }

    private func exchange(with targets: [Tensor]) {
        for (position, target) in targets.enumerated() {
            swap(&shadows[position], &target.data)
        }
        swappedTargets = isSwapped ? nil : targets
    }
}
