import Diffusion
import Foundation
import Personalization
import TensorCore

// Outputs of the Swift models for the PyTorch copy to reproduce. Timing alone
// cannot show that the two engines do the same arithmetic. So `check` gives
// every parameter random values, because the zero-initialized layers would
// otherwise hide most of the network. It then runs the models on fixed inputs
// and writes weights, inputs and outputs to one file:
//
//   denoiser.<name>, field.<name>, autoencoder.<name>   weights
//   adapter.<slot>.lora_A / .lora_B                     a random adapter
//   input.z [2, C_z, S, S], input.noise, input.field_latents [3, C_z, S, S],
//   input.images [2, 3, 64, 64]
//   output.denoiser   ε̂ for input.z with the adapter
//   output.loss       denoising loss of input.z against input.noise
//   output.gradient.<slot>.lora_A / .lora_B   its gradient in the adapter
//   output.field.<slot>.lora_A / .lora_B      H(X, s) for input.field_latents
//   output.latents    autoencoder.encode(input.images)
//   output.step_loss  stepLoss of H(X, s), H(X, s + 1) and output.gradient
//   input.sample_noise, output.samples   3-step DDIM at guidance 3 from that noise
//
// Metadata: the timesteps, class indices, identifier flags and field state.

/// Replaces every parameter of `module` with random values: normal with
/// standard deviation 1/√fan-in for weights of rank 2 or more, 1 ± 0.1 for
/// norm scales, and ±0.1 for other vectors.
func randomizeParameters(_ module: Module, rng: inout SeededGenerator) throws {
    var values: [String: Tensor] = [:]
    for (name, tensor) in module.namedParameters() {
        if tensor.rank >= 2 {
            let fanIn = tensor.count / tensor.shape[0]
            values[name] = rng.normalTensor(tensor.shape, scale: 1 / Float(fanIn).squareRoot())
        } else if name.hasSuffix(".weight") && name.contains("norm") {
            values[name] = Tensor(shape: tensor.shape, data: rng.normalTensor(tensor.shape, scale: 0.1).data.map { 1 + $0 })
        } else {
            values[name] = rng.normalTensor(tensor.shape, scale: 0.1)
        }
    }
    try module.load(values)
}

func writeCheck(denoiser: Denoiser, schedule: NoiseSchedule, rng: inout SeededGenerator, to url: URL) throws {
    let configuration = denoiser.configuration
    let latentShape = [configuration.latentChannels, configuration.latentSize, configuration.latentSize]
    let field = HypernetworkField(FieldConfiguration(slots: denoiser.slots), seed: 1)
    let autoencoder = Autoencoder(AutoencoderConfiguration(), seed: 1)
    try randomizeParameters(denoiser, rng: &rng)
    try randomizeParameters(field, rng: &rng)
    try randomizeParameters(autoencoder, rng: &rng)

    var adapter = Adapter()
    for slot in denoiser.slots {
        adapter.slots[slot.name] = LoRAWeights(
            a: rng.normalTensor(slot.aShape(rank: 4), scale: 0.1), b: rng.normalTensor(slot.bShape(rank: 4), scale: 0.1),
            alpha: 4)
    }
    let z = rng.normalTensor([2] + latentShape)
    let noise = rng.normalTensor([2] + latentShape)
    let fieldLatents = rng.normalTensor([3] + latentShape)
    let images = rng.uniformTensor([2, 3, 64, 64], -1, 1)
    let timesteps = [10, 700]
    let conditions = [Condition(classIndex: 0), Condition.unconditional(configuration)]
    let state = 123

    // Forward passes without a tape, then the loss and its adapter gradient.
    let (prediction, fieldAdapter, nextFieldAdapter, latents) = GradMode.withoutGradients {
        (denoiser(z, timesteps: timesteps, conditions: conditions, adapter: adapter),
         field(fieldLatents, state: Double(state)),
         field(fieldLatents, state: Double(state + 1)),
         autoencoder.encode(images))
    }
    let point = adapter.detached()
    point.setRequiresGrad(true)
    let loss = denoisingLoss(
        denoiser: denoiser, schedule: schedule, latents: z, conditions: conditions, timesteps: timesteps, noise: noise,
        adapter: point)
    loss.backward()
    let gradient = Adapter(slots: point.slots.mapValues { LoRAWeights(a: $0.a.grad!, b: $0.b.grad!, alpha: $0.alpha) })
    let step = GradMode.withoutGradients {
        stepLoss(here: fieldAdapter, next: nextFieldAdapter, gradient: gradient, learningRate: 1)
    }

    // The sampler draws its starting noise first, and a copy of the generator
    // yields the same draw, so PyTorch can start from it.
    var settings = SamplerSettings()
    settings.steps = 3
    settings.guidanceScale = 3
    var noiseSource = rng
    let sampleNoise = noiseSource.normalTensor([2] + latentShape)
    let samples = DDIMSampler(denoiser: denoiser, schedule: schedule, settings: settings)
        .sample(conditions: [Condition(classIndex: 1), Condition(classIndex: 2)], rng: &rng)

    var tensors: [(name: String, tensor: Tensor)] = []
    tensors += denoiser.namedParameters().map { ("denoiser." + $0.name, $0.tensor) }
    tensors += field.namedParameters().map { ("field." + $0.name, $0.tensor) }
    tensors += autoencoder.namedParameters().map { ("autoencoder." + $0.name, $0.tensor) }
    for name in adapter.slotNames {
        tensors.append(("adapter.\(name).lora_A", adapter.slots[name]!.a))
        tensors.append(("adapter.\(name).lora_B", adapter.slots[name]!.b))
        tensors.append(("output.gradient.\(name).lora_A", point.slots[name]!.a.grad!))
        tensors.append(("output.gradient.\(name).lora_B", point.slots[name]!.b.grad!))
        tensors.append(("output.field.\(name).lora_A", fieldAdapter.slots[name]!.a))
        tensors.append(("output.field.\(name).lora_B", fieldAdapter.slots[name]!.b))
    }
    tensors += [
        ("input.z", z), ("input.noise", noise), ("input.field_latents", fieldLatents), ("input.images", images),
        ("output.denoiser", prediction), ("output.loss", loss.detached()), ("output.latents", latents),
        ("output.step_loss", step), ("input.sample_noise", sampleNoise), ("output.samples", samples),
    ]
    let metadata = [
        "timesteps": timesteps.map(String.init).joined(separator: ","),
        "class_indices": conditions.map { String($0.classIndex) }.joined(separator: ","),
        "has_identifier": conditions.map { $0.hasIdentifier ? "1" : "0" }.joined(separator: ","),
        "field_state": String(state),
    ]
    try SafeTensors.write(tensors, metadata: metadata, to: url)
}
