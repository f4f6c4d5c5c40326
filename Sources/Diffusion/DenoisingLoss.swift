import TensorCore

/// The ε-prediction objective: `‖ε − D(√ᾱ_t·z_0 + √(1−ᾱ_t)·ε, t, c; θ)‖²`,
/// averaged over elements and samples.
///
/// Timesteps and noise are inputs, so that callers can fix them (to compare
/// methods on the same draws) or draw them stratified and antithetic.
public func denoisingLoss(
    denoiser: Denoiser, schedule: NoiseSchedule, latents z0: Tensor, conditions: [Condition],
    timesteps: [Int], noise: Tensor, adapter: Adapter? = nil
) -> Tensor {
    let noisy = schedule.addNoise(z0, timesteps: timesteps, noise: noise)
    let prediction = denoiser(noisy, timesteps: timesteps, conditions: conditions, adapter: adapter)
    return Tensor.mseLoss(prediction, noise)
}

/// Draws for one evaluation of the denoising loss.
public struct DenoisingDraws {
    public var timesteps: [Int]
    public var noise: Tensor

    public init(timesteps: [Int], noise: Tensor) {
        self.timesteps = timesteps
        self.noise = noise
    }

    /// Uniform timesteps in `range` and standard normal noise, for a batch of
    /// latents of `shape`.
    public static func random(
        shape: [Int], timestepRange range: Range<Int>, rng: inout SeededGenerator
    ) -> DenoisingDraws {
        let timesteps = (0..<shape[0]).map { _ in rng.integer(in: range) }
        return DenoisingDraws(timesteps: timesteps, noise: rng.normalTensor(shape))
    }

    /// Stratified timesteps (one uniform draw in each of `shape[0]` equal
    /// strata of `range`) and antithetic noise (the second half of the batch
    /// is the negation of the first), which lowers the variance of a gradient
    /// estimate over the same number of draws.
    public static func stratified(
        shape: [Int], timestepRange range: Range<Int>, rng: inout SeededGenerator
    ) -> DenoisingDraws {
        let count = shape[0]
        var timesteps: [Int] = []
        for index in 0..<count {
            let low = range.lowerBound + range.count * index / count
            let high = max(low + 1, range.lowerBound + range.count * (index + 1) / count)
            timesteps.append(rng.integer(in: low..<high))
        }
        rng.shuffle(&timesteps)
        let perSample = shapeElementCount(Array(shape.dropFirst()))
        let half = (count + 1) / 2
        var values = [Float](repeating: 0, count: count * perSample)
        for index in 0..<count {
            for j in 0..<perSample {
                values[index * perSample + j] = index < half ? rng.normal() : -values[(index - half) * perSample + j]
            }
        }
        return DenoisingDraws(timesteps: timesteps, noise: Tensor(shape: shape, data: values))
    }
}
