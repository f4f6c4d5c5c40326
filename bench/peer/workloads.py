"""The PyTorch side of the peer benchmark: runs one workload in this process
and prints one JSON line with its timings.

The shapes, optimizers and settings match bench/peer/swift/main.swift, the
Swift side. compare.py runs both, alternating, one process per measurement.

Usage: python workloads.py WORKLOAD [--repeats N] [--threads N] [--input FILE]
  WORKLOAD: describe, denoiser-train, field-train, sample, personalize, check
  check reads the file that `hyperfield-bench-peer check` wrote, recomputes
  its outputs with the same weights and inputs, and prints the differences.
"""

import argparse
import json
import math
import time

import torch

from autoencoder import Autoencoder
from denoiser import Denoiser
from diffusion import NoiseSchedule, ddim_sample, denoising_loss, random_draws
from field import FieldConfiguration, HypernetworkField, Subject, field_training_loss, slots_of, step_loss

WORKLOADS = ["describe", "denoiser-train", "field-train", "sample", "personalize", "check"]


def timed_runs(repeats, body, warm_up=None):
    """Time `repeats` runs of `body`, in seconds, after one untimed run of
    `warm_up` (by default `body` itself)."""
    (warm_up or body)()
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        body()
        seconds.append(time.perf_counter() - start)
    return seconds


def parameter_summary(module):
    """Summarize a module's parameters: total and trainable counts, and `name -> shape`."""
    parameters = list(module.named_parameters())
    return {
        "count": sum(p.numel() for _, p in parameters),
        "trainable": sum(p.numel() for _, p in parameters if p.requires_grad),
        "shapes": {name: list(p.shape) for name, p in parameters},
    }


def random_subjects(generator, class_count):
    """Make 8 subjects of 6 random latents each, classes in turn."""
    return [Subject(torch.randn(6, 4, 16, 16, generator=generator), index % class_count) for index in range(8)]


def read_safetensors(path):
    """Read a safetensors file of F32 tensors into `(tensors, metadata)`."""
    with open(path, "rb") as file:
        data = file.read()
    header_length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + header_length])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {entry['dtype']}, expected F32")
        start, end = entry["data_offsets"]
        values = bytearray(data[8 + header_length + start : 8 + header_length + end])
        tensors[name] = torch.frombuffer(values, dtype=torch.float32).reshape(entry["shape"])
    return tensors, metadata


def with_prefix(tensors, prefix):
    return {name[len(prefix) :]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}


def relative_difference(values, reference):
    """Return max |values − reference| / max |reference| over lists of tensors."""
    difference = max(float((v - r).abs().max()) for v, r in zip(values, reference))
    scale = max(float(r.abs().max()) for r in reference)
    return difference / max(scale, 1e-30)


def check_outputs(path, denoiser, schedule):
    """Recompute the outputs stored by the Swift `check` workload with its
    weights and inputs; return the relative difference of each output."""
    tensors, metadata = read_safetensors(path)
    field_model = HypernetworkField(FieldConfiguration(slots_of(denoiser)))
    autoencoder = Autoencoder()
    denoiser.load_state_dict(with_prefix(tensors, "denoiser."), strict=True)
    field_model.load_state_dict(with_prefix(tensors, "field."), strict=True)
    autoencoder.load_state_dict(with_prefix(tensors, "autoencoder."), strict=True)

    slot_names = [slot.name for slot in field_model.configuration.slots]
    adapter = {name: (tensors[f"adapter.{name}.lora_A"].clone().requires_grad_(),
                      tensors[f"adapter.{name}.lora_B"].clone().requires_grad_(), 1.0) for name in slot_names}
    timesteps = torch.tensor([int(t) for t in metadata["timesteps"].split(",")])
    classes = torch.tensor([int(c) for c in metadata["class_indices"].split(",")])
    identifiers = torch.tensor([flag == "1" for flag in metadata["has_identifier"].split(",")])
    z, noise = tensors["input.z"], tensors["input.noise"]

    state = int(metadata["field_state"])
    with torch.no_grad():
        prediction = denoiser(z, timesteps, classes, identifiers, adapter)
        field_adapter = field_model(tensors["input.field_latents"], state)
        next_field_adapter = field_model(tensors["input.field_latents"], state + 1)
        latents = autoencoder.encode(tensors["input.images"])
        samples = ddim_sample(denoiser, schedule, torch.tensor([1, 2]), steps=3, guidance_scale=3.0,
                              noise=tensors["input.sample_noise"])
    loss = denoising_loss(denoiser, schedule, z, classes, identifiers, timesteps, noise, adapter)
    gradients = torch.autograd.grad(loss, [t for name in slot_names for t in adapter[name][:2]])
    gradient = {name: (gradients[2 * index], gradients[2 * index + 1]) for index, name in enumerate(slot_names)}
    with torch.no_grad():
        field_step_loss = step_loss(field_adapter, next_field_adapter, gradient, learning_rate=1.0, gradient_scale=1.0)

    def stored(prefix):
        return [tensors[f"{prefix}.{name}.lora_{part}"] for name in slot_names for part in "AB"]

    return {
        "denoiser output": relative_difference([prediction], [tensors["output.denoiser"]]),
        "denoising loss": relative_difference([loss.detach().reshape(-1)], [tensors["output.loss"].reshape(-1)]),
        "adapter gradient": relative_difference(list(gradients), stored("output.gradient")),
        "field adapter": relative_difference([t for name in slot_names for t in field_adapter[name][:2]], stored("output.field")),
        "autoencoder latents": relative_difference([latents], [tensors["output.latents"]]),
        "field step loss": relative_difference([field_step_loss.reshape(-1)], [tensors["output.step_loss"].reshape(-1)]),
        "DDIM samples": relative_difference([samples], [tensors["output.samples"]]),
    }


def main():
    parser = argparse.ArgumentParser(description="Run one PyTorch peer workload and print its timings as JSON.")
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after one warm-up run")
    parser.add_argument("--threads", type=int, default=2, help="intra-op threads (torch.set_num_threads)")
    parser.add_argument("--input", help="check: the file written by `hyperfield-bench-peer check`")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(1)

    denoiser = Denoiser()
    configuration = denoiser.configuration
    schedule = NoiseSchedule()
    result = {"engine": "pytorch", "workload": arguments.workload, "threads": torch.get_num_threads(),
              "torch": torch.__version__}

    if arguments.workload == "describe":
        field_model = HypernetworkField(FieldConfiguration(slots_of(denoiser)), generator)
        result["denoiser"] = parameter_summary(denoiser)
        result["field"] = parameter_summary(field_model)
        result["autoencoder"] = parameter_summary(Autoencoder())
        result["slots"] = len(denoiser.slots())

    elif arguments.workload == "denoiser-train":
        # One AdamW step of the denoising loss at batch 32.
        batch = 32
        latents = torch.randn(batch, 4, 16, 16, generator=generator)
        classes = torch.arange(batch) % configuration.class_count
        identifiers = torch.ones(batch, dtype=torch.bool)
        optimizer = torch.optim.AdamW(denoiser.parameters(), lr=1e-4, weight_decay=0.01)

        def training_step():
            timesteps, noise = random_draws(latents.shape, schedule.timesteps, generator)
            loss = denoising_loss(denoiser, schedule, latents, classes, identifiers, timesteps, noise)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        result["seconds"] = timed_runs(arguments.repeats, training_step)

    elif arguments.workload == "field-train":
        # One trainer step at the field's defaults: 4 subjects, 16 draws each,
        # AdamW, clipping at norm 1, EMA of the weights.
        denoiser.requires_grad_(False)
        field_model = HypernetworkField(FieldConfiguration(slots_of(denoiser)), generator)
        subjects = random_subjects(generator, configuration.class_count)
        parameters = [p for p in field_model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(parameters, lr=1e-3, weight_decay=0.0)
        averages = [p.detach().clone() for p in parameters]

        def training_step():
            loss = field_training_loss(field_model, denoiser, schedule, subjects, batch_size=4, draws_per_subject=16,
                                       max_input_images=4, generator=generator)
            value = loss.item()
            if not math.isfinite(value):
                raise RuntimeError(f"field-train: the loss is {value}, not finite")
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, 1.0)
            optimizer.step()
            with torch.no_grad():
                torch._foreach_lerp_(averages, [p.detach() for p in parameters], 1 - 0.999)

        result["seconds"] = timed_runs(arguments.repeats, training_step)

    elif arguments.workload == "sample":
        classes = torch.arange(16) % configuration.class_count
        # A whole sampling run is long, so a one-step run is the warm-up.
        result["seconds"] = timed_runs(
            arguments.repeats,
            lambda: ddim_sample(denoiser, schedule, classes, steps=25, guidance_scale=3.0, generator=generator),
            warm_up=lambda: ddim_sample(denoiser, schedule, classes, steps=1, guidance_scale=3.0, generator=generator))

    elif arguments.workload == "personalize":
        # Encode 4 images of 64x64, normalize the latents, and run the field at
        # s = S: the adapter a subject gets at use time.
        autoencoder = Autoencoder()
        field_model = HypernetworkField(FieldConfiguration(slots_of(denoiser)), generator)
        mean = torch.zeros(1, 4, 1, 1)
        standard_deviation = torch.ones(1, 4, 1, 1)
        images = torch.rand(4, 3, 64, 64, generator=generator) * 2 - 1

        @torch.no_grad()
        def personalize():
            latents = (autoencoder.encode(images) - mean) / standard_deviation
            field_model(latents, field_model.configuration.total_steps)

        result["seconds"] = timed_runs(arguments.repeats, personalize)

    elif arguments.workload == "check":
        if not arguments.input:
            parser.error("check needs --input FILE, the file written by `hyperfield-bench-peer check --output FILE`")
        result["differences"] = check_outputs(arguments.input, denoiser, schedule)

    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
