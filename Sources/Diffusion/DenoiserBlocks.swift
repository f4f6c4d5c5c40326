import Foundation
import TensorCore

/// Sinusoidal embedding of integer timesteps: `[B, width]`, half sines and
/// half cosines over frequencies from 1 down to 1/10000.
func timestepEmbedding(_ timesteps: [Int], width: Int) -> Tensor {
    let half = width / 2
    var values = [Float](repeating: 0, count: timesteps.count * width)
    for (row, t) in timesteps.enumerated() {
        for i in 0..<half {
            let frequency = exp(-log(10_000.0) * Double(i) / Double(half))
            let angle = Double(t) * frequency
            values[row * width + i] = Float(sin(angle))
            values[row * width + half + i] = Float(cos(angle))
        }
    }
    return Tensor(shape: [timesteps.count, width], data: values)
}

/// Residual block: `x + conv2(silu(norm2(conv1(silu(norm1(x))) + emb)))`, with a
/// 1×1 convolution on the skip path when the channel count changes. `emb` is
/// the timestep embedding projected to the output channels.
final class ResidualBlock: Module {
    let norm1: GroupNorm
    let conv1: AdaptableConv2d
    let embeddingProjection: Linear?
    let norm2: GroupNorm
    let conv2: AdaptableConv2d
    let skip: Conv2d?

    init(
        _ inChannels: Int, _ outChannels: Int, embeddingWidth: Int?, groups: Int, path: String,
        rng: inout SeededGenerator
    ) {
        norm1 = GroupNorm(groups: groups, channels: inChannels)
        conv1 = AdaptableConv2d(inChannels, outChannels, kernel: 3, slotName: path + ".conv1", rng: &rng)
        embeddingProjection = embeddingWidth.map { Linear($0, outChannels, rng: &rng) }
        norm2 = GroupNorm(groups: groups, channels: outChannels)
        conv2 = AdaptableConv2d(outChannels, outChannels, kernel: 3, slotName: path + ".conv2", rng: &rng)
        // The last convolution starts at zero, so each block starts as the
        // identity and deep stacks train stably.
        conv2.base.weight.data = [Float](repeating: 0, count: conv2.base.weight.count)
        skip = inChannels == outChannels ? nil : Conv2d(inChannels, outChannels, kernel: 1, rng: &rng)
        super.init()
        child("norm1", norm1)
        child("conv1", conv1)
        if let embeddingProjection { child("time_emb_proj", embeddingProjection) }
        child("norm2", norm2)
        child("conv2", conv2)
        if let skip { child("conv_shortcut", skip) }
    }

    var slots: [SlotDescriptor] { [conv1.descriptor, conv2.descriptor] }

    /// `x [B, Cin, H, W]`, `embedding [B, E]` → `[B, Cout, H, W]`.
    func callAsFunction(_ x: Tensor, embedding: Tensor?, adapter: Adapter?) -> Tensor {
        var h = conv1(norm1.withSiLU(x), adapter: adapter)
        if let embeddingProjection, let embedding {
            let projected = embeddingProjection(embedding.silu())
            h = h + projected.reshaped([projected.shape[0], projected.shape[1], 1, 1])
        }
        h = conv2(norm2.withSiLU(h), adapter: adapter)
        return (skip?(x) ?? x) + h
    }
}

/// Multi-head attention with LoRA slots on the query, key, value and output
/// projections (`to_q`, `to_k`, `to_v`, `to_out`).
final class AttentionLayer: Module {
    let toQuery: AdaptableLinear
    let toKey: AdaptableLinear
    let toValue: AdaptableLinear
    let toOut: AdaptableLinear
    let heads: Int

    init(width: Int, contextWidth: Int, heads: Int, path: String, rng: inout SeededGenerator) {
        self.heads = heads
        toQuery = AdaptableLinear(width, width, bias: false, slotName: path + ".to_q", rng: &rng)
        toKey = AdaptableLinear(contextWidth, width, bias: false, slotName: path + ".to_k", rng: &rng)
        toValue = AdaptableLinear(contextWidth, width, bias: false, slotName: path + ".to_v", rng: &rng)
        toOut = AdaptableLinear(width, width, bias: true, slotName: path + ".to_out", rng: &rng)
        super.init()
        child("to_q", toQuery)
        child("to_k", toKey)
        child("to_v", toValue)
        child("to_out", toOut)
    }

    var slots: [SlotDescriptor] { [toQuery.descriptor, toKey.descriptor, toValue.descriptor, toOut.descriptor] }

    /// `x [B, T, D]` attends to `context [B, S, Dc]` → `[B, T, D]`.
    func callAsFunction(_ x: Tensor, context: Tensor, adapter: Adapter?) -> Tensor {
        let q = toQuery(x, adapter: adapter)
        let k = toKey(context, adapter: adapter)
        let v = toValue(context, adapter: adapter)
        return toOut(Tensor.attention(query: q, key: k, value: v, heads: heads), adapter: adapter)
    }
}

/// Transformer block over the pixels of a feature map: self-attention, then
/// cross-attention to the condition tokens, then a GELU feed-forward layer,
/// each pre-normalized and residual, between 1×1 input and output
/// projections and around a residual connection of the whole block.
final class TransformerBlock: Module {
    let norm: GroupNorm
    let projectIn: Linear
    let norm1: LayerNorm
    let selfAttention: AttentionLayer
    let norm2: LayerNorm
    let crossAttention: AttentionLayer
    let norm3: LayerNorm
    let feedForwardIn: Linear
    let feedForwardOut: Linear
    let projectOut: Linear

    init(width: Int, contextWidth: Int, heads: Int, groups: Int, path: String, rng: inout SeededGenerator) {
        norm = GroupNorm(groups: groups, channels: width)
        projectIn = Linear(width, width, rng: &rng)
        norm1 = LayerNorm(width)
        selfAttention = AttentionLayer(width: width, contextWidth: width, heads: heads, path: path + ".attn1", rng: &rng)
        norm2 = LayerNorm(width)
        crossAttention = AttentionLayer(
            width: width, contextWidth: contextWidth, heads: heads, path: path + ".attn2", rng: &rng)
        norm3 = LayerNorm(width)
        feedForwardIn = Linear(width, 4 * width, rng: &rng)
        feedForwardOut = Linear(4 * width, width, rng: &rng)
        projectOut = Linear(width, width, rng: &rng)
        // Zero output projection: the block starts as the identity.
        projectOut.weight.data = [Float](repeating: 0, count: projectOut.weight.count)
        projectOut.bias!.data = [Float](repeating: 0, count: width)
        super.init()
        child("norm", norm)
        child("proj_in", projectIn)
        child("norm1", norm1)
        child("attn1", selfAttention)
        child("norm2", norm2)
        child("attn2", crossAttention)
        child("norm3", norm3)
        child("ff_in", feedForwardIn)
        child("ff_out", feedForwardOut)
        child("proj_out", projectOut)
    }

    var slots: [SlotDescriptor] { selfAttention.slots + crossAttention.slots }

    /// `x [B, C, H, W]`, `context [B, S, Dc]` → `[B, C, H, W]`.
    func callAsFunction(_ x: Tensor, context: Tensor, adapter: Adapter?) -> Tensor {
        let (batch, channels, height, width) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        // [B, C, H, W] → [B, HW, C]
        var h = norm(x).reshaped([batch, channels, height * width]).permuted([0, 2, 1])
        h = projectIn(h)
        let normalized = norm1(h)
        h = h + selfAttention(normalized, context: normalized, adapter: adapter)
        h = h + crossAttention(norm2(h), context: context, adapter: adapter)
        h = h + feedForwardOut(feedForwardIn(norm3(h)).gelu())
        h = projectOut(h)
        // [B, HW, C] → [B, C, H, W]
        return x + h.permuted([0, 2, 1]).reshaped([batch, channels, height, width])
    }
}
