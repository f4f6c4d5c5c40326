/// One recorded op on the tape: the tensors it read and a closure that turns
/// the gradient of its output into gradients of those inputs.
final class TapeNode {
    let op: String
    let inputs: [Tensor]
    /// Receives the output's gradient (same count as the output) and adds the
    /// inputs' gradients through `Tensor.accumulateGrad`.
    let backward: ([Float]) -> Void

    init(op: String, inputs: [Tensor], backward: @escaping ([Float]) -> Void) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

/// Switch for gradient tracking. Inference code runs inside
/// `GradMode.withoutGradients { ... }` so that no tape is recorded.
public enum GradMode {
    // NOTE: process-wide, not per thread. Ops are recorded from one thread;
    // the worker threads of `parallelFor` never create tensors.
    nonisolated(unsafe) public private(set) static var isEnabled = true

    /// Runs `body` with gradient tracking off and restores the previous mode.
    public static func withoutGradients<T>(_ body: () throws -> T) rethrows -> T {
        let previous = isEnabled
        isEnabled = false
        defer { isEnabled = previous }
        return try body()
    }
}

extension Tensor {
    /// Whether an op reading these inputs must record itself on the tape.
    static func needsTape(_ inputs: [Tensor]) -> Bool {
        GradMode.isEnabled && inputs.contains { $0.requiresGrad }
    }

    /// Builds the result of an op and, when any input requires gradients,
    /// records `backward` for it.
    static func record(
        _ op: String, shape: [Int], data: [Float], inputs: [Tensor],
        backward: @escaping ([Float]) -> Void
    ) -> Tensor {
        let result = Tensor(shape: shape, data: data)
        if needsTape(inputs) {
            result.requiresGrad = true
            result.node = TapeNode(op: op, inputs: inputs, backward: backward)
        }
        return result
    }

    /// Adds `delta` (same element count as `self`) into this tensor's gradient.
    /// Does nothing when the tensor does not require gradients.
    func accumulateGrad(_ delta: [Float]) {
        guard requiresGrad else { return }
        precondition(delta.count == data.count, "accumulateGrad: \(delta.count) values for shape \(shape)")
        if let existing = grad {
            addInPlace(&existing.data, delta)
        } else {
            grad = Tensor(shape: shape, data: delta)
        }
    }

    /// Runs reverse-mode differentiation from this tensor, accumulating
    /// gradients into every tensor on the tape that requires them.
    ///
    /// - Parameters:
    ///   - seed: gradient of the final objective with respect to `self`;
    ///     defaults to ones, which for a scalar loss is `d loss / d loss`.
    ///   - retainGraph: keep the tape so that backward can run again.
    public func backward(seed: Tensor? = nil, retainGraph: Bool = false) {
        precondition(requiresGrad, "backward: the tensor does not require gradients; no tape was recorded")
        let seedData: [Float]
        if let seed {
            precondition(seed.shape == shape, "backward: seed shape \(seed.shape) does not match tensor shape \(shape)")
            seedData = seed.data
        } else {
            seedData = [Float](repeating: 1, count: data.count)
        }

        let order = topologicalOrder()
        accumulateGrad(seedData)
        for tensor in order.reversed() {
            guard let node = tensor.node, let outputGrad = tensor.grad else { continue }
            node.backward(outputGrad.data)
            // Intermediate results drop their gradient once it has been
            // propagated, so that only leaves keep one.
            tensor.grad = nil
            if !retainGraph { tensor.node = nil }
        }
    }

    /// Tensors reachable from `self` through the tape, each after its inputs.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        // Iterative depth-first search: a deep U-Net graph would overflow the
        // stack with recursion.
        var stack: [(tensor: Tensor, expanded: Bool)] = [(self, false)]
        while let entry = stack.popLast() {
            let (tensor, expanded) = (entry.tensor, entry.expanded)
            if expanded {
                order.append(tensor)
                continue
            }
            let id = ObjectIdentifier(tensor)
            if visited.contains(id) { continue }
            visited.insert(id)
            stack.append((tensor, true))
            if let node = tensor.node {
                for input in node.inputs where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }
        return order
    }
}

/// Gradients of the scalar `loss` with respect to each tensor in `targets`.
///
/// The targets may be any tensors that require gradients, including inputs
/// that belong to no module. Gradients already stored on the targets are
/// cleared first and left set afterwards; a target the loss does not depend on
/// gets zeros.
public func gradients(of loss: Tensor, withRespectTo targets: [Tensor]) -> [Tensor] {
    precondition(loss.count == 1, "gradients: loss must have one element, got shape \(loss.shape)")
    for target in targets {
        precondition(target.requiresGrad, "gradients: target \(target.name ?? "of shape \(target.shape)") does not require gradients")
        target.grad = nil
    }
    loss.backward()
    return targets.map { $0.grad ?? Tensor.zeros($0.shape) }
}
