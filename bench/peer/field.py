"""The hypernetwork field and its training loss in PyTorch.

This mirrors Sources/Personalization/HypernetworkField.swift,
FieldConfiguration.swift, FieldTraining.swift (`FieldTrainingTask.loss` and
`stepLoss`) and SubjectLatents.swift (`subjectLossBatch`, `adapterGradient`).
`H(X, s) = θ_0 + s·η·γ·Δ̂(X, s)`, so `H(X, 0)` is `θ_0`. Parameter names match
the Swift model's, with the slot names of `initial.*` written with `/`.
"""

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from diffusion import denoising_loss, stratified_draws

# Phase of the state embedding's fastest sinusoid at s = S.
STATE_PHASE_RANGE = 4.0


@dataclass
class Slot:
    """One LoRA slot of the denoiser: name and base weight shape."""

    name: str
    kind: str  # "linear" or "conv"
    in_features: int
    out_features: int
    kernel: int

    def a_shape(self, rank):
        return [rank, self.in_features] if self.kind == "linear" else [rank, self.in_features, self.kernel, self.kernel]

    def b_shape(self, rank):
        return [self.out_features, rank] if self.kind == "linear" else [self.out_features, rank, 1, 1]


def slots_of(denoiser):
    """Return the slot descriptors of a `denoiser.Denoiser`, sorted by name."""
    result = []
    for layer in denoiser.slots():
        if isinstance(layer, nn.Linear):
            result.append(Slot(layer.slot_name, "linear", layer.in_features, layer.out_features, 1))
        else:
            result.append(Slot(layer.slot_name, "conv", layer.in_channels, layer.out_channels, layer.kernel_size[0]))
    return result


@dataclass
class FieldConfiguration:
    """Field sizes, with the defaults of FieldConfiguration.swift."""

    slots: list
    rank: int = 4
    alpha: float = 4.0
    total_steps: int = 400
    learning_rate: float = 30.0
    gradient_scale: float = 1.0
    latent_channels: int = 4
    encoder_channels: list = field(default_factory=lambda: [64, 128, 128])
    width: int = 128
    layers: int = 2
    heads: int = 4


def numel(shape):
    return math.prod(shape)


class FieldTransformerLayer(nn.Module):
    """Pre-norm transformer layer over the slot tokens: self-attention and a
    GELU (tanh form) feed-forward layer, each residual."""

    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width, eps=1e-5)
        self.to_q = nn.Linear(width, width, bias=False)
        self.to_k = nn.Linear(width, width, bias=False)
        self.to_v = nn.Linear(width, width, bias=False)
        self.to_out = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width, eps=1e-5)
        self.ff_in = nn.Linear(width, 4 * width)
        self.ff_out = nn.Linear(4 * width, width)

    def forward(self, x):
        batch, tokens, width = x.shape
        head_width = width // self.heads

        def split_heads(t):
            return t.view(batch, tokens, self.heads, head_width).transpose(1, 2)

        n = self.norm1(x)
        attended = F.scaled_dot_product_attention(split_heads(self.to_q(n)), split_heads(self.to_k(n)), split_heads(self.to_v(n)))
        h = x + self.to_out(attended.transpose(1, 2).reshape(batch, tokens, width))
        return h + self.ff_out(F.gelu(self.ff_in(self.norm2(h)), approximate="tanh"))


class HypernetworkField(nn.Module):
    """Map the latents of a subject's images and a convergence state `s` to an adapter.

        latents [N, C_z, S, S] -> conv encoder -> features [N, F] -> mean over N
        s / S -> sinusoidal embedding -> MLP
        slot tokens [K, D] + project(features) + state embedding -> transformer
        -> per-slot token -> head of the slot's shape -> (ΔA, ΔB)
    """

    def __init__(self, configuration, generator=None):
        super().__init__()
        self.configuration = configuration
        c = configuration.encoder_channels
        width = configuration.width
        rank = configuration.rank

        self.encoder = nn.Module()
        self.encoder.conv1 = nn.Conv2d(configuration.latent_channels, c[0], 3, padding=1)
        self.encoder.norm1 = nn.GroupNorm(8, c[0], eps=1e-5)
        self.encoder.conv2 = nn.Conv2d(c[0], c[1], 3, stride=2, padding=1)
        self.encoder.norm2 = nn.GroupNorm(8, c[1], eps=1e-5)
        self.encoder.conv3 = nn.Conv2d(c[1], c[2], 3, stride=2, padding=1)
        self.encoder.norm3 = nn.GroupNorm(8, c[2], eps=1e-5)
        self.feature_proj = nn.Linear(c[2], width)
        self.state_embedding = nn.Module()
        self.state_embedding.linear_1 = nn.Linear(width, width)
        self.state_embedding.linear_2 = nn.Linear(width, width)
        self.slot_tokens = nn.Parameter(torch.randn(len(configuration.slots), width, generator=generator) * 0.02)
        self.layers = nn.ModuleList([FieldTransformerLayer(width, configuration.heads) for _ in range(configuration.layers)])
        self.norm_out = nn.LayerNorm(width, eps=1e-5)

        # One head per distinct slot shape, in order of first appearance. A
        # zero head makes Δ start at zero.
        self.heads = nn.ModuleList()
        self.head_of_slot = []
        keys = []
        for slot in configuration.slots:
            key = (slot.kind, slot.in_features, slot.out_features, slot.kernel)
            if key not in keys:
                keys.append(key)
                head = nn.Linear(width, numel(slot.a_shape(rank)) + numel(slot.b_shape(rank)))
                nn.init.zeros_(head.weight)
                nn.init.zeros_(head.bias)
                self.heads.append(head)
            self.head_of_slot.append(keys.index(key))

        # θ_0 has A from N(0, 1/fan_in) and B zero. It is stored with the
        # weights but never trained.
        self.initial = nn.ModuleDict()
        for slot in configuration.slots:
            holder = nn.Module()
            fan_in = slot.in_features * slot.kernel * slot.kernel
            a = torch.randn(slot.a_shape(rank), generator=generator) / math.sqrt(fan_in)
            holder.lora_A = nn.Parameter(a, requires_grad=False)
            holder.lora_B = nn.Parameter(torch.zeros(slot.b_shape(rank)), requires_grad=False)
            self.initial[slot.name.replace(".", "/")] = holder

    def subject_features(self, latents):
        """Encode a subject's latents `[N, C_z, S, S]` to features `[1, F]`, pooled
        in a canonical order (rows sorted by value) so image order does not matter."""
        e = self.encoder
        h = F.silu(e.norm1(e.conv1(latents)))
        h = F.silu(e.norm2(e.conv2(h)))
        h = F.silu(e.norm3(e.conv3(h)))
        features = h.mean(dim=(2, 3))  # [N, F]
        if features.shape[0] == 1:
            return features
        rows = features.detach().tolist()
        order = sorted(range(len(rows)), key=lambda index: rows[index])
        return features[order].mean(dim=0, keepdim=True)

    def state_embedding_of(self, state):
        """Embed `s / S` as sinusoids through a two-layer MLP: `[1, D]`."""
        width = self.configuration.width
        half = width // 2
        # The fastest sinusoid turns by STATE_PHASE_RANGE radians over the
        # whole trajectory, as `HypernetworkField.statePhaseRange` in Swift.
        position = STATE_PHASE_RANGE * state / self.configuration.total_steps
        frequencies = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float64) / half)
        angles = position * frequencies
        sinusoid = torch.cat([torch.sin(angles), torch.cos(angles)]).to(torch.float32)[None, :]
        return self.state_embedding.linear_2(F.silu(self.state_embedding.linear_1(sinusoid)))

    def delta(self, features, state):
        """Return `(ΔA, ΔB)` per slot, in slot order."""
        configuration = self.configuration
        slot_count, width, rank = len(configuration.slots), configuration.width, configuration.rank
        condition = self.feature_proj(features) + self.state_embedding_of(state)  # [1, D]
        tokens = (self.slot_tokens + condition).reshape(1, slot_count, width)
        for layer in self.layers:
            tokens = layer(tokens)
        per_slot = self.norm_out(tokens.reshape(slot_count, width))  # [K, D]

        result = []
        for index, slot in enumerate(configuration.slots):
            output = self.heads[self.head_of_slot[index]](per_slot[index : index + 1]).reshape(-1)
            a_count = numel(slot.a_shape(rank))
            result.append((output[:a_count].reshape(slot.a_shape(rank)), output[a_count:].reshape(slot.b_shape(rank))))
        return result

    def adapter(self, features, state):
        """Return `H(X, s)` as a dict slot name -> `(A, B, alpha / r)`."""
        configuration = self.configuration
        scale = configuration.alpha / configuration.rank
        fraction = state * configuration.learning_rate * configuration.gradient_scale
        deltas = self.delta(features, state) if state != 0 else None
        adapter = {}
        for index, slot in enumerate(configuration.slots):
            initial = self.initial[slot.name.replace(".", "/")]
            if deltas is None:
                adapter[slot.name] = (initial.lora_A, initial.lora_B, scale)
            else:
                delta_a, delta_b = deltas[index]
                adapter[slot.name] = (initial.lora_A + delta_a * fraction, initial.lora_B + delta_b * fraction, scale)
        return adapter

    def forward(self, latents, state):
        return self.adapter(self.subject_features(latents), state)


@dataclass
class Subject:
    """Normalized latents `[N, C_z, S, S]` of one subject's images and its class."""

    latents: torch.Tensor
    class_index: int


def subject_loss_batch(subject, count, timestep_count, generator):
    """Draw `count` latents cycling through the subject's images from a random
    start, with stratified timesteps and antithetic noise."""
    image_count = subject.latents.shape[0]
    start = int(torch.randint(0, image_count, (1,), generator=generator))
    latents = subject.latents[[(start + index) % image_count for index in range(count)]]
    timesteps, noise = stratified_draws(latents.shape, timestep_count, generator)
    return latents, timesteps, noise


def adapter_gradient(denoiser, schedule, subject, adapter, latents, timesteps, noise):
    """Return the gradient of the subject's denoising loss with respect to every
    `A` and `B` of `adapter`, taken as constants (first order). The denoiser is
    frozen."""
    point = {name: (a.detach().requires_grad_(), b.detach().requires_grad_(), scale) for name, (a, b, scale) in adapter.items()}
    batch = latents.shape[0]
    loss = denoising_loss(
        denoiser, schedule, latents, torch.full((batch,), subject.class_index), torch.ones(batch, dtype=torch.bool),
        timesteps, noise, point)
    tensors = [tensor for a, b, _ in point.values() for tensor in (a, b)]
    gradients = torch.autograd.grad(loss, tensors)
    names = list(point)
    return {name: (gradients[2 * index], gradients[2 * index + 1]) for index, name in enumerate(names)}


def step_loss(here, next_state, gradient, learning_rate, gradient_scale):
    """Return `‖(next − here)/η + g‖² / γ²`, averaged over every adapter element."""
    total = None
    elements = 0
    for name in sorted(here):
        h_a, h_b, _ = here[name]
        n_a, n_b, _ = next_state[name]
        g_a, g_b = gradient[name]
        for x, y, target in ((h_a, n_a, g_a), (h_b, n_b, g_b)):
            residual = ((y - x) * (1 / learning_rate) + target) * (1 / gradient_scale)
            squares = residual.square().sum()
            total = squares if total is None else total + squares
            elements += x.numel()
    return total * (1 / max(elements, 1))


def field_training_loss(field_model, denoiser, schedule, subjects, batch_size, draws_per_subject, max_input_images, generator):
    """Compute the loss of one field training step over `batch_size` subjects,
    as `FieldTrainingTask.loss` does."""
    configuration = field_model.configuration
    classes = sorted({subject.class_index for subject in subjects})
    subjects_of_class = [[index for index, subject in enumerate(subjects) if subject.class_index == c] for c in classes]
    total = None
    for _ in range(batch_size):
        # Draw a subject by class, then subject, and a state s in [0, S − 1].
        group = subjects_of_class[int(torch.randint(0, len(subjects_of_class), (1,), generator=generator))]
        subject = subjects[group[int(torch.randint(0, len(group), (1,), generator=generator))]]
        state = int(torch.randint(0, configuration.total_steps, (1,), generator=generator))
        order = torch.randperm(subject.latents.shape[0], generator=generator)[:max_input_images]
        features = field_model.subject_features(subject.latents[order])
        here = field_model.adapter(features, state)
        next_state = field_model.adapter(features, state + 1)

        # The gradient step at the field's own prediction, a constant.
        latents, timesteps, noise = subject_loss_batch(subject, draws_per_subject, schedule.timesteps, generator)
        gradient = adapter_gradient(denoiser, schedule, subject, here, latents, timesteps, noise)

        subject_loss = step_loss(here, next_state, gradient, configuration.learning_rate, configuration.gradient_scale)
        total = subject_loss if total is None else total + subject_loss
    return total * (1 / batch_size)
