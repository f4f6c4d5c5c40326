import Diffusion

/// Every size of a hypernetwork field, stored as JSON with its weights.
public struct FieldConfiguration: Codable, Equatable, Sendable {
    /// LoRA slots of the denoiser the field writes adapters for.
    public var slots: [SlotDescriptor]
    /// Adapter rank `r` of every slot.
    public var rank = 4
    /// Adapter alpha of every slot; the update is scaled by `alpha / r`.
    public var alpha: Float = 4
    /// Convergence state `S` of the end of the trajectory, in optimizer
    /// steps of per-subject training.
    public var totalSteps = 400
    /// Learning rate `η` of the gradient descent whose trajectory the field
    /// learns. 30 came from SGD against Adam runs on the shipped denoiser
    /// (`models/field.md`); 100 diverged within 400 steps.
    public var learningRate: Float = 30
    /// Root mean square `γ` of one element of the loss gradient at `θ_0` over
    /// training subjects. The field's raw output is in units of `γ`:
    /// `Δ = η·S·γ·Δ̂`, so `Δ̂` is of order 1 whatever the scale of the
    /// denoiser's gradients, and the loss divides by `γ²`.
    public var gradientScale: Float = 1
    /// Seed of the initial adapter `θ_0` (`A` random, `B` zero).
    public var initialSeed: UInt64 = 0
    /// Latent channels and side of the subject images' latents.
    public var latentChannels = 4
    public var latentSize = 16
    /// Channels of the latent image encoder's three stages.
    public var encoderChannels = [64, 128, 128]
    /// Width of the slot tokens and of the transformer.
    public var width = 128
    /// Transformer layers over the slot tokens.
    public var layers = 2
    /// Attention heads per transformer layer.
    public var heads = 4

    public init(slots: [SlotDescriptor]) {
        self.slots = slots
    }

    public func validationError() -> String? {
        if slots.isEmpty { return "the field has no slots to write" }
        if rank < 1 { return "rank \(rank) must be at least 1" }
        if !(gradientScale > 0) || !gradientScale.isFinite { return "gradient scale \(gradientScale) must be positive and finite" }
        if totalSteps < 1 { return "total steps S = \(totalSteps) must be at least 1" }
        if width % heads != 0 { return "heads \(heads) do not divide width \(width)" }
        if encoderChannels.count != 3 { return "encoder channels \(encoderChannels) must list three stages" }
        if let bad = encoderChannels.first(where: { $0 % 8 != 0 }) { return "encoder channels \(bad) must be a multiple of 8" }
        return nil
    }
}
