"""Noise schedule, denoising loss, loss draws and the DDIM sampler in PyTorch.

These mirror Sources/Diffusion/NoiseSchedule.swift (linear betas),
DenoisingLoss.swift and Sampler.swift (DDIM with classifier-free guidance in
one doubled batch and a clamped predicted clean latent).
"""

import torch
import torch.nn.functional as F


class NoiseSchedule:
    """Linear betas in `[1e-4, 0.02]` over `T` timesteps, with ᾱ_t in `alphas_cumulative`."""

    def __init__(self, timesteps=1000):
        self.timesteps = timesteps
        betas = torch.linspace(1e-4, 0.02, timesteps, dtype=torch.float64)
        self.alphas_cumulative = torch.cumprod(1 - betas, dim=0)

    def add_noise(self, z0, timesteps, noise):
        """Return `z_t = √ᾱ_t·z0 + √(1 − ᾱ_t)·ε`, one timestep per sample."""
        alpha = self.alphas_cumulative[timesteps].to(torch.float32)[:, None, None, None]
        return z0 * alpha.sqrt() + noise * (1 - alpha).sqrt()


def denoising_loss(denoiser, schedule, latents, class_indices, has_identifier, timesteps, noise, adapter=None):
    """Return the mean squared error between the noise and the denoiser's prediction of it."""
    noisy = schedule.add_noise(latents, timesteps, noise)
    prediction = denoiser(noisy, timesteps, class_indices, has_identifier, adapter)
    return F.mse_loss(prediction, noise)


def random_draws(shape, timestep_count, generator):
    """Draw uniform timesteps and standard normal noise for a batch of `shape`."""
    timesteps = torch.randint(0, timestep_count, (shape[0],), generator=generator)
    return timesteps, torch.randn(shape, generator=generator)


def stratified_draws(shape, timestep_count, generator):
    """Draw one uniform timestep in each of `shape[0]` equal strata, shuffled,
    and antithetic noise (the second half of the batch negates the first)."""
    count = shape[0]
    timesteps = []
    for index in range(count):
        low = timestep_count * index // count
        high = max(low + 1, timestep_count * (index + 1) // count)
        timesteps.append(int(torch.randint(low, high, (1,), generator=generator)))
    order = torch.randperm(count, generator=generator)
    timesteps = torch.tensor(timesteps)[order]
    half = (count + 1) // 2
    first = torch.randn((half,) + tuple(shape[1:]), generator=generator)
    noise = torch.cat([first, -first[: count - half]], dim=0)
    return timesteps, noise


@torch.no_grad()
def ddim_sample(denoiser, schedule, class_indices, steps=25, guidance_scale=3.0, clip_range=3.0, generator=None,
                noise=None):
    """Sample latents `[B, C_z, S, S]` by deterministic DDIM (eta = 0), with
    classifier-free guidance unless `guidance_scale` is 1, starting from
    `noise` or from a draw of `generator`."""
    configuration = denoiser.configuration
    batch = class_indices.shape[0]
    shape = (batch, configuration.latent_channels, configuration.latent_size, configuration.latent_size)
    z = torch.randn(shape, generator=generator) if noise is None else noise
    count = max(1, min(steps, schedule.timesteps))
    visited = [(schedule.timesteps - 1) - index * schedule.timesteps // count for index in range(count)]

    guided = guidance_scale != 1
    identifiers = torch.ones(batch, dtype=torch.bool)
    # Conditional half first, then the unconditional half (null class, no identifier).
    both_classes = torch.cat([class_indices, torch.full((batch,), configuration.null_class)])
    both_identifiers = torch.cat([identifiers, torch.zeros(batch, dtype=torch.bool)])
    for index, t in enumerate(visited):
        previous = visited[index + 1] if index + 1 < len(visited) else -1
        if guided:
            both = denoiser(torch.cat([z, z]), torch.full((2 * batch,), t), both_classes, both_identifiers)
            conditional, unconditional = both[:batch], both[batch:]
            epsilon = unconditional + (conditional - unconditional) * guidance_scale
        else:
            epsilon = denoiser(z, torch.full((batch,), t), class_indices, identifiers)

        alpha = float(schedule.alphas_cumulative[t])
        alpha_previous = float(schedule.alphas_cumulative[previous]) if previous >= 0 else 1.0
        predicted = ((z - epsilon * (1 - alpha) ** 0.5) / alpha**0.5).clamp(-clip_range, clip_range)
        epsilon = (z - predicted * alpha**0.5) / (1 - alpha) ** 0.5
        z = predicted * alpha_previous**0.5 + epsilon * max(1 - alpha_previous, 0.0) ** 0.5
    return z
