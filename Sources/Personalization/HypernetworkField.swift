import Diffusion
import Foundation
import TensorCore

/// The hypernetwork field `H(X, s) = θ_0 + (s / S)·Δ(X, s)`, with
/// `Δ = η·S·γ·Δ̂` (see `FieldConfiguration.gradientScale`): from the latents of
/// a subject's images `X` and a convergence state `s ∈ [0, S]`, the adapter
/// that `s` steps of per-subject gradient descent would reach.
///
///     latents [N, C_z, S, S] → conv encoder → features [N, F] → mean over N
///     s / S → sinusoidal embedding → MLP                      ┐
///     slot tokens [K, D] + project(features) + state embedding ┘→ transformer
///     → per-slot token → head of the slot's shape → (ΔA, ΔB)
///
/// Because of the `s / S` factor, `H(X, 0)` is `θ_0` exactly. The features are
/// pooled in a canonical order (sorted by value), so the order of a subject's
/// images does not change its adapter, to the bit.
public final class HypernetworkField: Module {
    public let configuration: FieldConfiguration

    let encoder1: Conv2d
    let encoder2: Conv2d
    let encoder3: Conv2d
    let encoderNorm1: GroupNorm
    let encoderNorm2: GroupNorm
    let encoderNorm3: GroupNorm
    let featureProjection: Linear
    let stateLinear1: Linear
    let stateLinear2: Linear
    let slotTokens: Tensor
    let layers: [FieldTransformerLayer]
    let outputNorm: LayerNorm
    /// One head per distinct slot shape; `headOfSlot[k]` indexes `heads`.
    let heads: [Linear]
    let headOfSlot: [Int]
    /// `θ_0`, fixed: `initial.<slot>.lora_A` and `.lora_B`.
    let initialA: [Tensor]
    let initialB: [Tensor]

    public init(_ configuration: FieldConfiguration, seed: UInt64 = 0) {
        if let problem = configuration.validationError() {
            preconditionFailure("HypernetworkField configuration: \(problem)")
        }
        self.configuration = configuration
        var rng = SeededGenerator(seed: seed)
        let c = configuration.encoderChannels
        let width = configuration.width

        encoder1 = Conv2d(configuration.latentChannels, c[0], kernel: 3, rng: &rng)
        encoderNorm1 = GroupNorm(groups: 8, channels: c[0])
        encoder2 = Conv2d(c[0], c[1], kernel: 3, stride: 2, rng: &rng)
        encoderNorm2 = GroupNorm(groups: 8, channels: c[1])
        encoder3 = Conv2d(c[1], c[2], kernel: 3, stride: 2, rng: &rng)
        encoderNorm3 = GroupNorm(groups: 8, channels: c[2])
        featureProjection = Linear(c[2], width, rng: &rng)
        stateLinear1 = Linear(width, width, rng: &rng)
        stateLinear2 = Linear(width, width, rng: &rng)
        slotTokens = rng.normalTensor([configuration.slots.count, width], scale: 0.02)
        layers = (0..<configuration.layers).map { _ in
            FieldTransformerLayer(width: width, heads: configuration.heads, rng: &rng)
        }
        outputNorm = LayerNorm(width)

        // Heads by slot shape, in order of first appearance.
        var shapes: [String] = []
        var headOfSlot: [Int] = []
        var heads: [Linear] = []
        for slot in configuration.slots {
            let key = Self.shapeKey(slot)
            if let index = shapes.firstIndex(of: key) {
                headOfSlot.append(index)
            } else {
                shapes.append(key)
                headOfSlot.append(heads.count)
                let outputs = shapeElementCount(slot.aShape(rank: configuration.rank))
                    + shapeElementCount(slot.bShape(rank: configuration.rank))
                let head = Linear(width, outputs, rng: &rng)
                // A zero head makes Δ start at zero, so training starts from
                // the field that predicts no change at all.
                head.weight.data = [Float](repeating: 0, count: head.weight.count)
                head.bias!.data = [Float](repeating: 0, count: outputs)
                heads.append(head)
            }
        }
        self.heads = heads
        self.headOfSlot = headOfSlot

        var initialRNG = SeededGenerator(seed: configuration.initialSeed)
        let initial = Adapter.initial(
            for: configuration.slots, rank: configuration.rank, alpha: configuration.alpha, rng: &initialRNG)
        initialA = configuration.slots.map { initial.slots[$0.name]!.a }
        initialB = configuration.slots.map { initial.slots[$0.name]!.b }

        super.init()
        let encoder = child("encoder", Module())
        encoder.child("conv1", encoder1)
        encoder.child("norm1", encoderNorm1)
        encoder.child("conv2", encoder2)
        encoder.child("norm2", encoderNorm2)
        encoder.child("conv3", encoder3)
        encoder.child("norm3", encoderNorm3)
        child("feature_proj", featureProjection)
        let state = child("state_embedding", Module())
        state.child("linear_1", stateLinear1)
        state.child("linear_2", stateLinear2)
        parameter("slot_tokens", slotTokens)
        let transformer = child("layers", Module())
        for (index, layer) in layers.enumerated() { transformer.child("\(index)", layer) }
        child("norm_out", outputNorm)
        let headModule = child("heads", Module())
        for (index, head) in heads.enumerated() { headModule.child("\(index)", head) }
        // θ_0 is stored with the weights but never trained. Slot names
        // contain dots, so they are encoded with '/' in the parameter name.
        let initialModule = child("initial", Module())
        for (index, slot) in configuration.slots.enumerated() {
            let slotModule = initialModule.child(slot.name.replacingOccurrences(of: ".", with: "/"), Module())
            slotModule.parameter("lora_A", initialA[index])
            slotModule.parameter("lora_B", initialB[index])
        }
        setTrainable(false, matching: "initial.*")
    }

    private static func shapeKey(_ slot: SlotDescriptor) -> String {
        "\(slot.kind.rawValue)-\(slot.inFeatures)-\(slot.outFeatures)-\(slot.kernel)"
    }

    /// The initial adapter `θ_0`.
    public var initialAdapter: Adapter {
        var adapter = Adapter()
        for (index, slot) in configuration.slots.enumerated() {
            adapter.slots[slot.name] = LoRAWeights(
                a: initialA[index].detached(), b: initialB[index].detached(), alpha: configuration.alpha)
        }
        return adapter
    }

    /// Image features `[1, F]` of a subject: encoder outputs of its latents
    /// `[N, C_z, S, S]`, averaged in a canonical order.
    public func subjectFeatures(_ latents: Tensor) -> Tensor {
        var h = encoderNorm1.withSiLU(encoder1(latents))
        h = encoderNorm2.withSiLU(encoder2(h))
        h = encoderNorm3.withSiLU(encoder3(h))
        let features = h.mean(axes: [2, 3])  // [N, F]
        let count = features.shape[0], width = features.shape[1]
        if count == 1 { return features }
        // Sort rows by their values so that the sum below adds them in the
        // same order whatever the input order.
        let order = (0..<count).sorted { i, j in
            let a = features.data[(i * width)..<((i + 1) * width)]
            let b = features.data[(j * width)..<((j + 1) * width)]
            return a.lexicographicallyPrecedes(b)
        }
        let sorted = Tensor.concat(order.map { features.sliced(axis: 0, $0..<($0 + 1)) }, axis: 0)
        return sorted.mean(axes: [0], keepDims: true)
    }

    /// Phase of the fastest sinusoid of the state embedding at `s = S`.
    ///
    /// The field's step is `(s+1)·Δ(s+1) − s·Δ(s)`, so any change of the
    /// embedding between neighbouring states is multiplied by `s`. With a
    /// diffusion-style scale of 1000 over S = 400 states the fast sinusoids
    /// turned by 2.5 radians per state, and the step of a field with any
    /// weight on them was noise; training then found no direction at all
    /// (cosine with the gradient step about 0 after 500 steps). At 4 radians
    /// over the whole trajectory the embedding is a smooth function of `s/S`.
    static let statePhaseRange = 4.0

    /// Sinusoidal embedding of the convergence state fraction `s / S`.
    func stateEmbedding(_ state: Double) -> Tensor {
        let width = configuration.width
        let half = width / 2
        let position = Self.statePhaseRange * state / Double(configuration.totalSteps)
        var values = [Float](repeating: 0, count: width)
        for i in 0..<half {
            let frequency = Foundation.exp(-Foundation.log(10_000.0) * Double(i) / Double(half))
            values[i] = Float(Foundation.sin(position * frequency))
            values[half + i] = Float(Foundation.cos(position * frequency))
        }
        let sinusoid = Tensor(shape: [1, width], data: values)
        return stateLinear2(stateLinear1(sinusoid).silu())
    }

    /// `Δ(X, s)` per slot, in slot order: `(ΔA, ΔB)`.
    func delta(features: Tensor, state: Double) -> [(a: Tensor, b: Tensor)] {
        let width = configuration.width
        let slotCount = configuration.slots.count
        let condition = featureProjection(features) + stateEmbedding(state)  // [1, D]
        var tokens = (slotTokens + condition).reshaped([1, slotCount, width])
        for layer in layers { tokens = layer(tokens) }
        let perSlot = outputNorm(tokens.reshaped([slotCount, width]))  // [K, D]

        var result: [(a: Tensor, b: Tensor)] = []
        let rank = configuration.rank
        for (index, slot) in configuration.slots.enumerated() {
            let token = perSlot.sliced(axis: 0, index..<(index + 1))
            let output = heads[headOfSlot[index]](token).reshaped([-1])
            let aCount = shapeElementCount(slot.aShape(rank: rank))
            let parts = output.split(axis: 0, sizes: [aCount, output.count - aCount])
            result.append((parts[0].reshaped(slot.aShape(rank: rank)), parts[1].reshaped(slot.bShape(rank: rank))))
        }
        return result
    }

    /// `H(X, s)` from pooled `features` (see `subjectFeatures`).
    public func adapter(features: Tensor, state: Double) -> Adapter {
        var adapter = Adapter()
        // (s / S)·η·S·γ = s·η·γ
        let fraction = Float(state) * configuration.learningRate * configuration.gradientScale
        let deltas = state == 0 ? nil : delta(features: features, state: state)
        for (index, slot) in configuration.slots.enumerated() {
            let a: Tensor, b: Tensor
            if let deltas {
                a = initialA[index] + deltas[index].a * fraction
                b = initialB[index] + deltas[index].b * fraction
            } else {
                // s = 0: θ_0 itself, with no arithmetic that could round.
                a = initialA[index]
                b = initialB[index]
            }
            adapter.slots[slot.name] = LoRAWeights(a: a, b: b, alpha: configuration.alpha)
        }
        adapter.metadata = [
            "convergence_state": String(Int(state.rounded())), "convergence_steps": String(configuration.totalSteps),
        ]
        return adapter
    }

    /// `H(X, s)` for subject latents `[N, C_z, S, S]`.
    public func callAsFunction(_ latents: Tensor, state: Double) -> Adapter {
        adapter(features: subjectFeatures(latents), state: state)
    }
}

/// Pre-norm transformer layer over the slot tokens: self-attention and a GELU
/// feed-forward layer, each residual.
final class FieldTransformerLayer: Module {
    let norm1: LayerNorm
    let toQuery: Linear
    let toKey: Linear
    let toValue: Linear
    let toOut: Linear
    let norm2: LayerNorm
    let feedForwardIn: Linear
    let feedForwardOut: Linear
    let heads: Int

    init(width: Int, heads: Int, rng: inout SeededGenerator) {
        self.heads = heads
        norm1 = LayerNorm(width)
        toQuery = Linear(width, width, bias: false, rng: &rng)
        toKey = Linear(width, width, bias: false, rng: &rng)
        toValue = Linear(width, width, bias: false, rng: &rng)
        toOut = Linear(width, width, rng: &rng)
        norm2 = LayerNorm(width)
        feedForwardIn = Linear(width, 4 * width, rng: &rng)
        feedForwardOut = Linear(4 * width, width, rng: &rng)
        super.init()
        child("norm1", norm1)
        child("to_q", toQuery)
        child("to_k", toKey)
        child("to_v", toValue)
        child("to_out", toOut)
        child("norm2", norm2)
        child("ff_in", feedForwardIn)
        child("ff_out", feedForwardOut)
    }

    /// `[B, K, D]` → `[B, K, D]`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        let n = norm1(x)
        var h = x + toOut(Tensor.attention(query: toQuery(n), key: toKey(n), value: toValue(n), heads: heads))
        h = h + feedForwardOut(feedForwardIn(norm2(h)).gelu())
        return h
    }
}
