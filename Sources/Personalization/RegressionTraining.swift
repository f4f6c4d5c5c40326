import Diffusion
import Foundation
import TensorCore

/// The regression hypernetwork baseline (HyperDreamBooth-style): a network of
/// the field's architecture, always queried at `s = S`, trained by mean
/// squared error to adapters that per-subject training computed in advance.
///
/// Loss per subject: `‖G(X) − θ_S‖² / σ²`, averaged over adapter elements,
/// where `σ` is the root mean square of `θ_S − θ_0` over the targets, so that
/// predicting `θ_0` scores about 1.
public final class RegressionTrainingTask: TrainingTask {
    /// The network; its `totalSteps` is the state it is queried at.
    public let network: HypernetworkField
    public let subjects: [SubjectLatents]
    /// `θ_S` of each subject, in the order of `subjects`.
    public let targets: [Adapter]
    public var maxInputImages: Int
    public var modelMetadata: [String: String]
    /// `σ²` of the loss.
    public let targetScaleSquared: Float

    public init(
        network: HypernetworkField, subjects: [SubjectLatents], targets: [Adapter], maxInputImages: Int = 4,
        metadata: [String: String] = [:]
    ) {
        precondition(!subjects.isEmpty && subjects.count == targets.count, "RegressionTrainingTask: one target per subject")
        self.network = network
        self.subjects = subjects
        self.targets = targets
        self.maxInputImages = maxInputImages
        modelMetadata = metadata
        targetScaleSquared = max(Self.meanSquaredOffset(targets, from: network.initialAdapter), .leastNormalMagnitude)
    }

    /// Mean of `(θ − θ_0)²` over every element of every target.
    public static func meanSquaredOffset(_ targets: [Adapter], from initial: Adapter) -> Float {
        let start = AdapterMath.flatten(initial)
        var sum = 0.0
        var count = 0
        for target in targets {
            for (value, origin) in zip(AdapterMath.flatten(target), start) {
                sum += Double(value - origin) * Double(value - origin)
                count += 1
            }
        }
        return Float(sum / Double(max(count, 1)))
    }

    public var model: Module { network }
    public var modelKind: String { "field" }
    public var configurationJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(network.configuration)) ?? Data(), as: UTF8.self)
    }

    public func loss(step: Int, batchSize: Int, rng: inout SeededGenerator) -> Tensor {
        let state = Double(network.configuration.totalSteps)
        var total: Tensor? = nil
        for _ in 0..<batchSize {
            let index = rng.integer(in: 0..<subjects.count)
            let subject = subjects[index]
            var order = Array(0..<subject.imageCount)
            rng.shuffle(&order)
            let predicted = network(subject.images(Array(order.prefix(maxInputImages))), state: state)
            let error = adapterSquaredError(predicted, targets[index]) * (1 / targetScaleSquared)
            total = total.map { $0 + error } ?? error
        }
        return total! * (1 / Float(batchSize))
    }
}

/// `‖a − b‖²` averaged over every adapter element, differentiable in `a`.
public func adapterSquaredError(_ a: Adapter, _ b: Adapter) -> Tensor {
    var sum: Tensor? = nil
    var elements = 0
    for name in a.slotNames {
        guard let x = a.slots[name], let y = b.slots[name] else {
            preconditionFailure("adapterSquaredError: slot \(name) is missing from the target")
        }
        for (p, q) in [(x.a, y.a), (x.b, y.b)] {
            let squares = (p - q.detached()).square().sum()
            sum = sum.map { $0 + squares } ?? squares
            elements += p.count
        }
    }
    return sum! * (1 / Float(max(elements, 1)))
}
