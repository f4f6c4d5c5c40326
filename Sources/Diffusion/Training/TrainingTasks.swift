import Foundation
import TensorCore

/// Encodes a configuration as sorted-key JSON, the form stored in files.
func configurationText<Configuration: Encodable>(_ configuration: Configuration) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: (try? encoder.encode(configuration)) ?? Data(), as: UTF8.self)
}

/// Autoencoder training: L1 reconstruction of `[-1, 1]` images plus a small
/// penalty on the latents' mean square, which keeps their scale bounded.
public final class AutoencoderTask: TrainingTask {
    public let autoencoder: Autoencoder
    public let images: LabeledSamples
    /// Weight of the latent penalty.
    public var latentPenalty: Float
    public var modelMetadata: [String: String]

    public init(autoencoder: Autoencoder, images: LabeledSamples, latentPenalty: Float = 1e-4, metadata: [String: String] = [:]) {
        precondition(
            images.sampleShape == [3, autoencoder.configuration.imageSize, autoencoder.configuration.imageSize],
            "AutoencoderTask: images of shape \(images.sampleShape) do not fit the autoencoder's \(autoencoder.configuration.imageSize)x\(autoencoder.configuration.imageSize)")
        self.autoencoder = autoencoder
        self.images = images
        self.latentPenalty = latentPenalty
        modelMetadata = metadata
    }

    public var model: Module { autoencoder }
    public var modelKind: String { "autoencoder" }
    public var configurationJSON: String { configurationText(autoencoder.configuration) }

    public func loss(step: Int, batchSize: Int, rng: inout SeededGenerator) -> Tensor {
        let (batch, _) = images.drawBatch(batchSize, flip: true, rng: &rng)
        let latents = autoencoder.encode(batch)
        let reconstruction = autoencoder.decode(latents)
        return Tensor.l1Loss(reconstruction, batch) + latents.square().mean() * latentPenalty
    }
}

/// Denoiser training: ε-prediction on normalized latents with uniform
/// timesteps. Every conditioned sample carries its class token and the
/// identifier token. With probability `conditionDropout` a sample gets the
/// null class and null identifier instead, which trains the unconditional
/// branch of classifier-free guidance.
public final class DenoiserTask: TrainingTask {
    public let denoiser: Denoiser
    public let schedule: NoiseSchedule
    /// Normalized latents with classes and subjects.
    public let latents: LabeledSamples
    public var conditionDropout: Float
    public var modelMetadata: [String: String]

    public init(
        denoiser: Denoiser, schedule: NoiseSchedule, latents: LabeledSamples, conditionDropout: Float = 0.1,
        metadata: [String: String] = [:]
    ) {
        let c = denoiser.configuration
        precondition(
            latents.sampleShape == [c.latentChannels, c.latentSize, c.latentSize],
            "DenoiserTask: latents of shape \(latents.sampleShape) do not fit the denoiser's [\(c.latentChannels), \(c.latentSize), \(c.latentSize)]")
        self.denoiser = denoiser
        self.schedule = schedule
        self.latents = latents
        self.conditionDropout = conditionDropout
        modelMetadata = metadata
    }

    public var model: Module { denoiser }
    public var modelKind: String { "denoiser" }
    public var configurationJSON: String { configurationText(denoiser.configuration) }

    public func loss(step: Int, batchSize: Int, rng: inout SeededGenerator) -> Tensor {
        // No flips here: a mirrored latent need not decode to the mirrored
        // image, so callers add the latents of mirrored images as samples.
        let (batch, classes) = latents.drawBatch(batchSize, flip: false, rng: &rng)
        let conditions = classes.map { classIndex -> Condition in
            rng.uniform() < conditionDropout ? .unconditional(denoiser.configuration) : Condition(classIndex: classIndex)
        }
        let draws = DenoisingDraws.random(shape: batch.shape, timestepRange: 0..<schedule.timesteps, rng: &rng)
        return denoisingLoss(
            denoiser: denoiser, schedule: schedule, latents: batch, conditions: conditions,
            timesteps: draws.timesteps, noise: draws.noise)
    }
}
