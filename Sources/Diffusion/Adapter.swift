import Foundation
import TensorCore

/// Low-rank update of one slot: the slot computes `W·x + (alpha / r)·B·(A·x)`.
///
/// Linear slots: `a: [r, in]`, `b: [out, r]` (PEFT layout). Convolution slots:
/// `a: [r, in, k, k]` (a convolution with the base kernel's size and stride),
/// `b: [out, r, 1, 1]`, as kohya stores convolution LoRA.
public struct LoRAWeights {
    public var a: Tensor
    public var b: Tensor
    public var alpha: Float

    public init(a: Tensor, b: Tensor, alpha: Float) {
        precondition(a.shape[0] == b.shape[1], "LoRAWeights: A \(a.shape) and B \(b.shape) disagree on rank")
        self.a = a
        self.b = b
        self.alpha = alpha
    }

    /// Rank `r`, the rows of `A`.
    public var rank: Int { a.shape[0] }

    /// `alpha / r`, the factor applied to `B·A`.
    public var scale: Float { alpha / Float(rank) }
}

/// Kind of layer that a LoRA slot wraps.
public enum SlotKind: String, Codable, Sendable {
    case linear
    case conv
}

/// One LoRA slot of a model: its dotted module path and the shapes of its
/// base weight.
public struct SlotDescriptor: Codable, Equatable, Sendable {
    /// Module path without `.weight`, e.g. `down.1.attn.0.attn1.to_q`.
    public let name: String
    public let kind: SlotKind
    public let inFeatures: Int
    public let outFeatures: Int
    /// Kernel side of a convolution slot; 1 for linear slots.
    public let kernel: Int

    public init(name: String, kind: SlotKind, inFeatures: Int, outFeatures: Int, kernel: Int) {
        self.name = name
        self.kind = kind
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.kernel = kernel
    }

    /// Shape of `A` at rank `r`.
    public func aShape(rank: Int) -> [Int] {
        kind == .linear ? [rank, inFeatures] : [rank, inFeatures, kernel, kernel]
    }

    /// Shape of `B` at rank `r`.
    public func bShape(rank: Int) -> [Int] {
        kind == .linear ? [outFeatures, rank] : [outFeatures, rank, 1, 1]
    }
}

/// A set of LoRA updates keyed by slot name, passed into the denoiser's
/// forward pass. Its tensors may require gradients, so that a loss can be
/// differentiated with respect to the adapter.
public struct Adapter {
    public var slots: [String: LoRAWeights]
    /// Strings stored with the adapter in its file (base model hash,
    /// convergence state, subject image hashes).
    public var metadata: [String: String]

    public init(slots: [String: LoRAWeights] = [:], metadata: [String: String] = [:]) {
        self.slots = slots
        self.metadata = metadata
    }

    /// Creates the initial adapter `θ_0` for `slots`: `A` with entries from
    /// `N(0, 1/in)`, `B` zero, so that it changes nothing until trained.
    public static func initial(
        for slots: [SlotDescriptor], rank: Int, alpha: Float, rng: inout SeededGenerator
    ) -> Adapter {
        var result = Adapter()
        for slot in slots {
            let fanIn = slot.inFeatures * slot.kernel * slot.kernel
            let a = rng.normalTensor(slot.aShape(rank: rank), scale: 1 / Float(fanIn).squareRoot())
            let b = Tensor.zeros(slot.bShape(rank: rank))
            result.slots[slot.name] = LoRAWeights(a: a, b: b, alpha: alpha)
        }
        return result
    }

    /// Slot names in sorted order.
    public var slotNames: [String] { slots.keys.sorted() }

    /// Number of adapter elements (`A` and `B` of every slot).
    public var elementCount: Int {
        slots.values.reduce(0) { $0 + $1.a.count + $1.b.count }
    }

    /// Marks every `A` and `B` as requiring gradients (or not).
    public func setRequiresGrad(_ value: Bool) {
        for weights in slots.values {
            weights.a.requiresGrad = value
            weights.b.requiresGrad = value
        }
    }

    /// Returns a copy whose tensors are detached from any tape.
    public func detached() -> Adapter {
        Adapter(
            slots: slots.mapValues { LoRAWeights(a: $0.a.detached(), b: $0.b.detached(), alpha: $0.alpha) },
            metadata: metadata)
    }

    /// Returns a copy whose every update `(alpha / r)·B·A` is multiplied by
    /// `factor`, through alpha; the tensors are shared.
    public func scaled(by factor: Float) -> Adapter {
        Adapter(
            slots: slots.mapValues { LoRAWeights(a: $0.a, b: $0.b, alpha: $0.alpha * factor) },
            metadata: metadata)
    }
}
