"""The HyperField denoiser in PyTorch, layer for layer.

This mirrors Sources/Diffusion/Denoiser.swift, DenoiserBlocks.swift and
LoRASlots.swift: the same modules, shapes, activations, zero-initialized
layers and dotted parameter names (`down.1.attn.0.attn1.to_q.weight`), so the
two engines do the same arithmetic and the parameter lists can be compared
name by name. Weights are random; only the work is compared.

An adapter is a dict from slot name to `(A, B, scale)`, with `A: [r, in]`,
`B: [out, r]` (PEFT layout) and `scale = alpha / r`.
"""

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DenoiserConfiguration:
    """Sizes of the denoiser, with the defaults of DenoiserConfiguration.swift."""

    latent_channels: int = 4
    latent_size: int = 16
    channels: list = field(default_factory=lambda: [32, 64, 128])
    attention_levels: list = field(default_factory=lambda: [1, 2])
    heads: int = 4
    groups: int = 8
    context_width: int = 64
    class_count: int = 3
    convolution_slots: bool = False

    @property
    def null_class(self):
        return self.class_count


def timestep_embedding(timesteps, width):
    """Embed integer timesteps `[B]` as sinusoids `[B, width]`: half sines and
    half cosines, at frequencies from 1 down to 1/10000."""
    half = width // 2
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float64) / half)
    angles = timesteps.to(torch.float64)[:, None] * frequencies[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).to(torch.float32)


class AdaptableLinear(nn.Linear):
    """LoRA slot over a linear layer: `W·x + b + (alpha / r)·B·(A·x)` when the
    adapter has an entry for `slot_name`, else the plain linear map."""

    def __init__(self, in_features, out_features, bias, slot_name):
        super().__init__(in_features, out_features, bias=bias)
        self.slot_name = slot_name

    def forward(self, x, adapter=None):
        y = F.linear(x, self.weight, self.bias)
        lora = adapter.get(self.slot_name) if adapter else None
        if lora is None:
            return y
        a, b, scale = lora
        # [..., in] -> [..., r] -> [..., out]
        return y + F.linear(F.linear(x, a), b) * scale


class AdaptableConv2d(nn.Conv2d):
    """LoRA slot over a convolution: `A` is a convolution with the base kernel's
    size, stride and padding to `r` channels, `B` a 1x1 convolution back."""

    def __init__(self, in_channels, out_channels, kernel, slot_name, stride=1):
        super().__init__(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2)
        self.slot_name = slot_name

    def forward(self, x, adapter=None):
        y = F.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        lora = adapter.get(self.slot_name) if adapter else None
        if lora is None:
            return y
        a, b, scale = lora
        down = F.conv2d(x, a, None, self.stride, self.padding)
        return y + F.conv2d(down, b) * scale


def conv3x3(in_channels, out_channels, stride=1):
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)


class ResidualBlock(nn.Module):
    """`x + conv2(silu(norm2(conv1(silu(norm1(x))) + emb)))`, with a 1x1
    convolution on the skip path when the channel count changes."""

    def __init__(self, in_channels, out_channels, embedding_width, groups, path):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_channels, eps=1e-5)
        self.conv1 = AdaptableConv2d(in_channels, out_channels, 3, slot_name=path + ".conv1")
        self.time_emb_proj = nn.Linear(embedding_width, out_channels) if embedding_width else None
        self.norm2 = nn.GroupNorm(groups, out_channels, eps=1e-5)
        self.conv2 = AdaptableConv2d(out_channels, out_channels, 3, slot_name=path + ".conv2")
        # As in Swift: only the weight of the last convolution starts at zero.
        nn.init.zeros_(self.conv2.weight)
        self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else None

    def slots(self):
        return [self.conv1, self.conv2]

    def forward(self, x, embedding=None, adapter=None):
        h = self.conv1(F.silu(self.norm1(x)), adapter)
        if self.time_emb_proj is not None and embedding is not None:
            h = h + self.time_emb_proj(F.silu(embedding))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)), adapter)
        skip = self.conv_shortcut(x) if self.conv_shortcut is not None else x
        return skip + h


class AttentionLayer(nn.Module):
    """Multi-head attention with LoRA slots on `to_q`, `to_k`, `to_v`, `to_out`."""

    def __init__(self, width, context_width, heads, path):
        super().__init__()
        self.heads = heads
        self.to_q = AdaptableLinear(width, width, False, path + ".to_q")
        self.to_k = AdaptableLinear(context_width, width, False, path + ".to_k")
        self.to_v = AdaptableLinear(context_width, width, False, path + ".to_v")
        self.to_out = AdaptableLinear(width, width, True, path + ".to_out")

    def slots(self):
        return [self.to_q, self.to_k, self.to_v, self.to_out]

    def forward(self, x, context, adapter=None):
        batch, tokens, width = x.shape
        head_width = width // self.heads

        def split_heads(t):
            # [B, T, D] -> [B, heads, T, D / heads]
            return t.view(batch, t.shape[1], self.heads, head_width).transpose(1, 2)

        q = split_heads(self.to_q(x, adapter))
        k = split_heads(self.to_k(context, adapter))
        v = split_heads(self.to_v(context, adapter))
        attended = F.scaled_dot_product_attention(q, k, v)
        attended = attended.transpose(1, 2).reshape(batch, tokens, width)
        return self.to_out(attended, adapter)


class TransformerBlock(nn.Module):
    """Self-attention, cross-attention to the condition tokens and a GELU (tanh
    form) feed-forward layer over the pixels of a feature map, each pre-normed
    and residual, between 1x1 projections, around a residual of the block."""

    def __init__(self, width, context_width, heads, groups, path):
        super().__init__()
        self.norm = nn.GroupNorm(groups, width, eps=1e-5)
        self.proj_in = nn.Linear(width, width)
        self.norm1 = nn.LayerNorm(width, eps=1e-5)
        self.attn1 = AttentionLayer(width, width, heads, path + ".attn1")
        self.norm2 = nn.LayerNorm(width, eps=1e-5)
        self.attn2 = AttentionLayer(width, context_width, heads, path + ".attn2")
        self.norm3 = nn.LayerNorm(width, eps=1e-5)
        self.ff_in = nn.Linear(width, 4 * width)
        self.ff_out = nn.Linear(4 * width, width)
        self.proj_out = nn.Linear(width, width)
        # Zero output projection: the block starts as the identity.
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def slots(self):
        return self.attn1.slots() + self.attn2.slots()

    def forward(self, x, context, adapter=None):
        batch, channels, height, width = x.shape
        # [B, C, H, W] -> [B, HW, C]
        h = self.norm(x).reshape(batch, channels, height * width).permute(0, 2, 1)
        h = self.proj_in(h)
        normalized = self.norm1(h)
        h = h + self.attn1(normalized, normalized, adapter)
        h = h + self.attn2(self.norm2(h), context, adapter)
        h = h + self.ff_out(F.gelu(self.ff_in(self.norm3(h)), approximate="tanh"))
        h = self.proj_out(h)
        # [B, HW, C] -> [B, C, H, W]
        return x + h.permute(0, 2, 1).reshape(batch, channels, height, width)


class Stage(nn.Module):
    """Container that gives a U-Net level the Swift parameter paths
    (`down.1.res.0`, `down.1.attn.0`, `down.1.downsample`)."""

    def __init__(self):
        super().__init__()
        self.res = nn.ModuleDict()
        self.attn = nn.ModuleDict()


class Denoiser(nn.Module):
    """U-Net that predicts the noise in a latent, conditioned on the timestep,
    a class token and the identifier token.

        conv_in -> down.0 (res) -> downsample -> down.1 (res, attn) -> downsample
        -> down.2 (res, attn) -> mid (res, attn, res)
        -> up.0 (2 x res, attn at C2) -> upsample -> up.1 (2 x res, attn at C1)
        -> upsample -> up.2 (2 x res at C0) -> norm, SiLU, conv_out
    """

    def __init__(self, configuration=None):
        super().__init__()
        configuration = configuration or DenoiserConfiguration()
        self.configuration = configuration
        c = configuration.channels
        levels = len(c)
        embedding_width = 4 * c[0]
        groups, heads, context_width = configuration.groups, configuration.heads, configuration.context_width

        self.conv_in = conv3x3(configuration.latent_channels, c[0])
        self.time_embedding = nn.Module()
        self.time_embedding.linear_1 = nn.Linear(c[0], embedding_width)
        self.time_embedding.linear_2 = nn.Linear(embedding_width, embedding_width)
        self.class_tokens = nn.Embedding(configuration.class_count + 1, context_width)
        self.identifier_tokens = nn.Embedding(2, context_width)

        self.down = nn.ModuleList()
        skip_channels = [c[0]]
        current = c[0]
        for level in range(levels):
            stage = Stage()
            stage.res["0"] = ResidualBlock(current, c[level], embedding_width, groups, f"down.{level}.res.0")
            current = c[level]
            if level in configuration.attention_levels:
                stage.attn["0"] = TransformerBlock(current, context_width, heads, groups, f"down.{level}.attn.0")
            skip_channels.append(current)
            if level < levels - 1:
                stage.downsample = conv3x3(current, current, stride=2)
                skip_channels.append(current)
            self.down.append(stage)

        self.mid = Stage()
        self.mid.res["0"] = ResidualBlock(current, current, embedding_width, groups, "mid.res.0")
        self.mid.attn["0"] = TransformerBlock(current, context_width, heads, groups, "mid.attn.0")
        self.mid.res["1"] = ResidualBlock(current, current, embedding_width, groups, "mid.res.1")

        self.up = nn.ModuleList()
        for step in range(levels):
            level = levels - 1 - step
            stage = Stage()
            for index in range(2):
                skip = skip_channels.pop()
                stage.res[str(index)] = ResidualBlock(
                    current + skip, c[level], embedding_width, groups, f"up.{step}.res.{index}")
                current = c[level]
                if level in configuration.attention_levels:
                    stage.attn[str(index)] = TransformerBlock(
                        current, context_width, heads, groups, f"up.{step}.attn.{index}")
            if level > 0:
                stage.upsample = conv3x3(current, current)
            self.up.append(stage)
        assert not skip_channels, f"skip connections left unused: {skip_channels}"

        self.norm_out = nn.GroupNorm(groups, c[0], eps=1e-5)
        self.conv_out = conv3x3(c[0], configuration.latent_channels)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def slots(self):
        """Return the LoRA slot layers, sorted by slot name as Swift's `Denoiser.slots` is."""
        layers = []
        for module in self.modules():
            if isinstance(module, TransformerBlock):
                layers += module.slots()
            elif isinstance(module, ResidualBlock) and self.configuration.convolution_slots:
                layers += module.slots()
        return sorted(layers, key=lambda layer: layer.slot_name)

    def context(self, class_indices, has_identifier):
        """Return the condition tokens `[B, 2, Dc]`: class token, then identifier token."""
        identifier_indices = torch.where(has_identifier, 0, 1)
        return torch.stack([self.class_tokens(class_indices), self.identifier_tokens(identifier_indices)], dim=1)

    def forward(self, z, timesteps, class_indices, has_identifier, adapter=None):
        """Predict the noise `[B, C_z, S, S]` in latents `z [B, C_z, S, S]`."""
        embedding = timestep_embedding(timesteps, self.configuration.channels[0])
        embedding = self.time_embedding.linear_2(F.silu(self.time_embedding.linear_1(embedding)))
        context = self.context(class_indices, has_identifier)

        h = self.conv_in(z)
        skips = [h]
        for stage in self.down:
            h = stage.res["0"](h, embedding, adapter)
            if "0" in stage.attn:
                h = stage.attn["0"](h, context, adapter)
            skips.append(h)
            if hasattr(stage, "downsample"):
                h = stage.downsample(h)
                skips.append(h)

        h = self.mid.res["0"](h, embedding, adapter)
        h = self.mid.attn["0"](h, context, adapter)
        h = self.mid.res["1"](h, embedding, adapter)

        for stage in self.up:
            for index in ("0", "1"):
                h = torch.cat([h, skips.pop()], dim=1)
                h = stage.res[index](h, embedding, adapter)
                if index in stage.attn:
                    h = stage.attn[index](h, context, adapter)
            if hasattr(stage, "upsample"):
                h = stage.upsample(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))
