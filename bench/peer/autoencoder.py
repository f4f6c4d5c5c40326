"""The HyperField autoencoder in PyTorch, mirroring Sources/Diffusion/Autoencoder.swift.

    encoder: conv_in (C) -> stride-2 conv (C) -> res (C->2C) -> stride-2 conv -> res (2C) -> conv_out (C_z)
    decoder: conv_in (2C) -> res (2C) -> up, conv -> res (2C->C) -> up, conv -> conv_out (3)

Parameter names match the Swift model's. Only `encode` runs in the benchmark
(personalization encodes a subject's images); the decoder is built so that the
parameter counts can be compared.
"""

import torch.nn.functional as F
from torch import nn

from denoiser import ResidualBlock, conv3x3


class Autoencoder(nn.Module):
    def __init__(self, image_size=64, latent_channels=4, base_channels=32, groups=8):
        super().__init__()
        c, z, g = base_channels, latent_channels, groups
        self.image_size = image_size

        self.encoder = nn.Module()
        self.encoder.conv_in = conv3x3(3, c)
        self.encoder.down1 = conv3x3(c, c, stride=2)
        self.encoder.res1 = ResidualBlock(c, 2 * c, None, g, "encoder.res1")
        self.encoder.down2 = conv3x3(2 * c, 2 * c, stride=2)
        self.encoder.res2 = ResidualBlock(2 * c, 2 * c, None, g, "encoder.res2")
        self.encoder.norm_out = nn.GroupNorm(g, 2 * c, eps=1e-5)
        self.encoder.conv_out = conv3x3(2 * c, z)

        self.decoder = nn.Module()
        self.decoder.conv_in = conv3x3(z, 2 * c)
        self.decoder.res1 = ResidualBlock(2 * c, 2 * c, None, g, "decoder.res1")
        self.decoder.up1 = conv3x3(2 * c, 2 * c)
        self.decoder.res2 = ResidualBlock(2 * c, c, None, g, "decoder.res2")
        self.decoder.up2 = conv3x3(c, c)
        self.decoder.norm_out = nn.GroupNorm(g, c, eps=1e-5)
        self.decoder.conv_out = conv3x3(c, 3)

    def encode(self, images):
        """Encode images `[B, 3, R, R]` to raw latents `[B, C_z, R/4, R/4]`."""
        e = self.encoder
        h = e.conv_in(images)
        h = e.down1(F.silu(h))
        h = e.res1(h)
        h = e.down2(h)
        h = e.res2(h)
        return e.conv_out(F.silu(e.norm_out(h)))

    def decode(self, latents):
        """Decode raw latents to images `[B, 3, R, R]`."""
        d = self.decoder
        h = d.conv_in(latents)
        h = d.res1(h)
        h = d.up1(F.interpolate(h, scale_factor=2, mode="nearest"))
        h = d.res2(h)
        h = d.up2(F.interpolate(h, scale_factor=2, mode="nearest"))
        return d.conv_out(F.silu(d.norm_out(h)))
