import TensorCore

/// U-Net that predicts the noise `ε` in a latent `z_t`, conditioned on the
/// timestep and on two learned tokens: a class token (face, cat, dog or null)
/// and the identifier token `[V]` (or its null), which base training shows on
/// every image so that an adapter can later bind a subject to it.
///
/// Layout, for `channels = [C0, C1, C2]`:
///
///     conv_in → down.0 (res) → downsample → down.1 (res, attn) → downsample
///     → down.2 (res, attn) → mid (res, attn, res)
///     → up.0 (2 × res, attn at C2) → upsample → up.1 (2 × res, attn at C1)
///     → upsample → up.2 (2 × res at C0) → norm, SiLU, conv_out
///
/// Every down-path output feeds one up-path residual block through a skip
/// connection. LoRA slots: the q, k, v and out projections of every self- and
/// cross-attention layer, and optionally the residual blocks' 3×3
/// convolutions.
public final class Denoiser: Module {
    public let configuration: DenoiserConfiguration

    let convIn: Conv2d
    let timeLinear1: Linear
    let timeLinear2: Linear
    let classTokens: Embedding
    let identifierTokens: Embedding
    let downResidual: [ResidualBlock]
    let downAttention: [TransformerBlock?]
    let downsamplers: [Conv2d]
    let midResidual1: ResidualBlock
    let midAttention: TransformerBlock
    let midResidual2: ResidualBlock
    let upResidual: [[ResidualBlock]]
    let upAttention: [[TransformerBlock?]]
    let upsamplers: [Conv2d]
    let normOut: GroupNorm
    let convOut: Conv2d

    public init(_ configuration: DenoiserConfiguration, seed: UInt64 = 0) {
        if let problem = configuration.validationError() {
            preconditionFailure("Denoiser configuration: \(problem)")
        }
        self.configuration = configuration
        var rng = SeededGenerator(seed: seed)
        let c = configuration.channels
        let levels = c.count
        let embeddingWidth = 4 * c[0]
        let groups = configuration.groups
        let heads = configuration.heads
        let contextWidth = configuration.contextWidth

        convIn = Conv2d(configuration.latentChannels, c[0], kernel: 3, rng: &rng)
        timeLinear1 = Linear(c[0], embeddingWidth, rng: &rng)
        timeLinear2 = Linear(embeddingWidth, embeddingWidth, rng: &rng)
        classTokens = Embedding(configuration.classCount + 1, contextWidth, rng: &rng)
        identifierTokens = Embedding(2, contextWidth, rng: &rng)

        var downResidual: [ResidualBlock] = []
        var downAttention: [TransformerBlock?] = []
        var downsamplers: [Conv2d] = []
        // Channel counts of the skip connections, in the order they are pushed.
        var skipChannels = [c[0]]
        var current = c[0]
        for level in 0..<levels {
            downResidual.append(ResidualBlock(
                current, c[level], embeddingWidth: embeddingWidth, groups: groups, path: "down.\(level).res.0", rng: &rng))
            current = c[level]
            downAttention.append(configuration.attentionLevels.contains(level)
                ? TransformerBlock(width: current, contextWidth: contextWidth, heads: heads, groups: groups,
                                   path: "down.\(level).attn.0", rng: &rng)
                : nil)
            skipChannels.append(current)
            if level < levels - 1 {
                downsamplers.append(Conv2d(current, current, kernel: 3, stride: 2, rng: &rng))
                skipChannels.append(current)
            }
        }
        self.downResidual = downResidual
        self.downAttention = downAttention
        self.downsamplers = downsamplers

        midResidual1 = ResidualBlock(current, current, embeddingWidth: embeddingWidth, groups: groups, path: "mid.res.0", rng: &rng)
        midAttention = TransformerBlock(width: current, contextWidth: contextWidth, heads: heads, groups: groups, path: "mid.attn.0", rng: &rng)
        midResidual2 = ResidualBlock(current, current, embeddingWidth: embeddingWidth, groups: groups, path: "mid.res.1", rng: &rng)

        var upResidual: [[ResidualBlock]] = []
        var upAttention: [[TransformerBlock?]] = []
        var upsamplers: [Conv2d] = []
        for step in 0..<levels {
            let level = levels - 1 - step
            var blocks: [ResidualBlock] = []
            var attentions: [TransformerBlock?] = []
            for index in 0..<2 {
                let skip = skipChannels.removeLast()
                blocks.append(ResidualBlock(
                    current + skip, c[level], embeddingWidth: embeddingWidth, groups: groups,
                    path: "up.\(step).res.\(index)", rng: &rng))
                current = c[level]
                attentions.append(configuration.attentionLevels.contains(level)
                    ? TransformerBlock(width: current, contextWidth: contextWidth, heads: heads, groups: groups,
                                       path: "up.\(step).attn.\(index)", rng: &rng)
                    : nil)
            }
            upResidual.append(blocks)
            upAttention.append(attentions)
            if level > 0 {
                upsamplers.append(Conv2d(current, current, kernel: 3, rng: &rng))
            }
        }
        precondition(skipChannels.isEmpty, "Denoiser: skip connections left unused: \(skipChannels)")
        self.upResidual = upResidual
        self.upAttention = upAttention
        self.upsamplers = upsamplers
        normOut = GroupNorm(groups: groups, channels: c[0])
        convOut = Conv2d(c[0], configuration.latentChannels, kernel: 3, rng: &rng)
        convOut.weight.data = [Float](repeating: 0, count: convOut.weight.count)
        convOut.bias!.data = [Float](repeating: 0, count: configuration.latentChannels)

        super.init()
        registerChildren()
    }

    /// Registers children under the dotted names of the file format, e.g.
    /// `down.1.attn.0.attn1.to_q.weight`.
    private func registerChildren() {
        child("conv_in", convIn)
        let time = child("time_embedding", Module())
        time.child("linear_1", timeLinear1)
        time.child("linear_2", timeLinear2)
        child("class_tokens", classTokens)
        child("identifier_tokens", identifierTokens)
        let down = child("down", Module())
        for level in 0..<downResidual.count {
            let stage = down.child("\(level)", Module())
            stage.child("res", Module()).child("0", downResidual[level])
            if let attention = downAttention[level] { stage.child("attn", Module()).child("0", attention) }
            if level < downsamplers.count { stage.child("downsample", downsamplers[level]) }
        }
        let mid = child("mid", Module())
        let midRes = mid.child("res", Module())
        midRes.child("0", midResidual1)
        midRes.child("1", midResidual2)
        mid.child("attn", Module()).child("0", midAttention)
        let up = child("up", Module())
        for step in 0..<upResidual.count {
            let stage = up.child("\(step)", Module())
            let res = stage.child("res", Module())
            for (index, block) in upResidual[step].enumerated() { res.child("\(index)", block) }
            if upAttention[step].contains(where: { $0 != nil }) {
                let attn = stage.child("attn", Module())
                for (index, block) in upAttention[step].enumerated() {
                    if let block { attn.child("\(index)", block) }
                }
            }
            if step < upsamplers.count { stage.child("upsample", upsamplers[step]) }
        }
        child("norm_out", normOut)
        child("conv_out", convOut)
    }

    /// The LoRA slots of this model, in a fixed order.
    public var slots: [SlotDescriptor] {
        var result: [SlotDescriptor] = []
        var residualBlocks: [ResidualBlock] = downResidual + [midResidual1, midResidual2]
        var transformers: [TransformerBlock] = downAttention.compactMap { $0 } + [midAttention]
        for step in 0..<upResidual.count {
            residualBlocks += upResidual[step]
            transformers += upAttention[step].compactMap { $0 }
        }
        for block in transformers { result += block.slots }
        if configuration.convolutionSlots {
            for block in residualBlocks { result += block.slots }
        }
        return result.sorted { $0.name < $1.name }
    }

    /// Condition tokens `[B, 2, Dc]`: class token, then identifier token.
    func context(_ conditions: [Condition]) -> Tensor {
        let classes = conditions.map { condition -> Int in
            precondition(
                condition.classIndex >= 0 && condition.classIndex <= configuration.nullClass,
                "Denoiser: class index \(condition.classIndex) is outside 0...\(configuration.nullClass)")
            return condition.classIndex
        }
        let identifiers = conditions.map { $0.hasIdentifier ? 0 : 1 }
        let width = configuration.contextWidth
        let classPart = classTokens(classes).reshaped([conditions.count, 1, width])
        let identifierPart = identifierTokens(identifiers).reshaped([conditions.count, 1, width])
        return Tensor.concat([classPart, identifierPart], axis: 1)
    }

    /// Predicted noise `ε̂ [B, C_z, S, S]` for latents `z [B, C_z, S, S]` at
    /// `timesteps` (one per sample) under `conditions`, with the LoRA
    /// updates of `adapter` in their slots.
    public func callAsFunction(
        _ z: Tensor, timesteps: [Int], conditions: [Condition], adapter: Adapter? = nil
    ) -> Tensor {
        let batch = z.shape[0]
        precondition(
            z.shape == [batch, configuration.latentChannels, configuration.latentSize, configuration.latentSize],
            "Denoiser: latents \(z.shape) do not match [B, \(configuration.latentChannels), \(configuration.latentSize), \(configuration.latentSize)]")
        precondition(
            timesteps.count == batch && conditions.count == batch,
            "Denoiser: \(timesteps.count) timesteps and \(conditions.count) conditions for batch \(batch)")

        let embedding = timeLinear2(timeLinear1(timestepEmbedding(timesteps, width: configuration.channels[0])).silu())
        let context = context(conditions)

        var h = convIn(z)
        var skips = [h]
        for level in 0..<downResidual.count {
            h = downResidual[level](h, embedding: embedding, adapter: adapter)
            if let attention = downAttention[level] { h = attention(h, context: context, adapter: adapter) }
            skips.append(h)
            if level < downsamplers.count {
                h = downsamplers[level](h)
                skips.append(h)
            }
        }

        h = midResidual1(h, embedding: embedding, adapter: adapter)
        h = midAttention(h, context: context, adapter: adapter)
        h = midResidual2(h, embedding: embedding, adapter: adapter)

        for step in 0..<upResidual.count {
            for index in 0..<2 {
                h = Tensor.concat([h, skips.removeLast()], axis: 1)
                h = upResidual[step][index](h, embedding: embedding, adapter: adapter)
                if let attention = upAttention[step][index] { h = attention(h, context: context, adapter: adapter) }
            }
            if step < upsamplers.count {
                h = upsamplers[step](h.upsampleNearest2x())
            }
        }
        return convOut(normOut.withSiLU(h))
    }
}
