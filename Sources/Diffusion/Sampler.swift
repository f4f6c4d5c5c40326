import TensorCore

/// Settings of a sampling run.
public struct SamplerSettings: Sendable {
    /// Denoising steps (DDIM) spread evenly over the training timesteps.
    public var steps = 25
    /// DDIM's `η`: 0 is deterministic DDIM, 1 is as stochastic as DDPM.
    public var eta: Float = 0
    /// Classifier-free guidance scale; 1 disables guidance.
    public var guidanceScale: Float = 3
    /// Bound of the predicted clean latent, in normalized latent units, applied
    /// at every step. Without it samples drift to about twice the training
    /// standard deviation.
    public var clipRange: Float = 3

    public init() {}
}

/// DDIM sampler (Song et al., 2021) with classifier-free guidance; with
/// `eta = 1` and as many steps as training timesteps it is DDPM's ancestral
/// sampler.
public struct DDIMSampler {
    public let denoiser: Denoiser
    public let schedule: NoiseSchedule
    public var settings: SamplerSettings

    public init(denoiser: Denoiser, schedule: NoiseSchedule, settings: SamplerSettings = SamplerSettings()) {
        self.denoiser = denoiser
        self.schedule = schedule
        self.settings = settings
    }

    /// Timesteps visited, from high noise to low.
    public var timesteps: [Int] {
        let count = max(1, min(settings.steps, schedule.timesteps))
        return (0..<count).map { index in
            (schedule.timesteps - 1) - index * schedule.timesteps / count
        }
    }

    /// Normalized latents `[B, C_z, S, S]` for `conditions`, starting from
    /// noise drawn from `rng`. `progress` is called after each step with the
    /// number of steps done.
    ///
    /// With `start`, sampling begins from those latents noised to the
    /// timestep `strength·T` instead of from pure noise (SDEdit): strength 1
    /// ignores them, small strengths give close variations of them.
    public func sample(
        conditions: [Condition], adapter: Adapter? = nil, start: (latents: Tensor, strength: Float)? = nil,
        rng: inout SeededGenerator, progress: ((Int) -> Void)? = nil
    ) -> Tensor {
        let configuration = denoiser.configuration
        let batch = conditions.count
        let shape = [batch, configuration.latentChannels, configuration.latentSize, configuration.latentSize]
        var z = rng.normalTensor(shape)
        var visited = timesteps
        if let start {
            precondition(start.latents.shape == shape, "DDIMSampler: start latents \(start.latents.shape) must be \(shape)")
            let limit = Int((start.strength * Float(schedule.timesteps)).rounded())
            visited = visited.filter { $0 < limit }
            if let first = visited.first {
                z = schedule.addNoise(start.latents, timesteps: [Int](repeating: first, count: batch), noise: z)
            } else {
                return start.latents
            }
        }
        let guided = settings.guidanceScale != 1
        let unconditional = [Condition](repeating: .unconditional(configuration), count: batch)

        return GradMode.withoutGradients {
            for (index, t) in visited.enumerated() {
                let previous = index + 1 < visited.count ? visited[index + 1] : -1

                // ε̂ with guidance: ε_u + s·(ε_c − ε_u), both in one batch.
                var epsilon: Tensor
                if guided {
                    let both = denoiser(
                        Tensor.concat([z, z], axis: 0), timesteps: [Int](repeating: t, count: 2 * batch),
                        conditions: conditions + unconditional, adapter: adapter)
                    let parts = both.split(axis: 0, sizes: [batch, batch])
                    epsilon = parts[1] + (parts[0] - parts[1]) * settings.guidanceScale
                } else {
                    epsilon = denoiser(z, timesteps: [Int](repeating: t, count: batch), conditions: conditions, adapter: adapter)
                }

                let alpha = Float(schedule.alphasCumulative[t])
                let alphaPrevious = previous >= 0 ? Float(schedule.alphasCumulative[previous]) : 1
                // Predicted clean latent, clamped, and the noise consistent with it.
                let predicted = ((z - epsilon * (1 - alpha).squareRoot()) / alpha.squareRoot())
                    .clamped(-settings.clipRange, settings.clipRange)
                epsilon = (z - predicted * alpha.squareRoot()) / (1 - alpha).squareRoot()

                let sigma = settings.eta
                    * ((1 - alphaPrevious) / (1 - alpha)).squareRoot() * (1 - alpha / alphaPrevious).squareRoot()
                let direction = max(1 - alphaPrevious - sigma * sigma, 0).squareRoot()
                z = predicted * alphaPrevious.squareRoot() + epsilon * direction
                if sigma > 0 && previous >= 0 {
                    z = z + rng.normalTensor(shape) * sigma
                }
                progress?(index + 1)
            }
            return z
        }
    }
}
