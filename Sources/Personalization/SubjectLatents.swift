import Diffusion
import TensorCore

/// One subject as the personalization methods see it: the normalized latents
/// of its images and its class.
public struct SubjectLatents {
    public var id: String
    /// `[N, C_z, S, S]`, N ≥ 1.
    public var latents: Tensor
    public var classIndex: Int

    public init(id: String, latents: Tensor, classIndex: Int) {
        precondition(latents.rank == 4 && latents.shape[0] >= 1, "SubjectLatents \(id): latents must be [N, C, S, S] with N ≥ 1, got \(latents.shape)")
        self.id = id
        self.latents = latents
        self.classIndex = classIndex
    }

    public var imageCount: Int { latents.shape[0] }

    /// Latents of images `indices`, stacked.
    public func images(_ indices: [Int]) -> Tensor {
        let size = latents.count / imageCount
        var values: [Float] = []
        values.reserveCapacity(indices.count * size)
        for index in indices { values += latents.data[(index * size)..<((index + 1) * size)] }
        return Tensor(shape: [indices.count] + Array(latents.shape.dropFirst()), data: values)
    }

    /// Returns the conditions of DreamBooth's "a [V] <class>": the class
    /// token and the identifier token.
    public func conditions(_ count: Int) -> [Condition] {
        [Condition](repeating: Condition(classIndex: classIndex, hasIdentifier: true), count: count)
    }
}

/// Draws for the denoising loss of one subject: `count` latents cycling
/// through the subject's images, with stratified timesteps and antithetic
/// noise (see `DenoisingDraws.stratified`).
public func subjectLossBatch(
    _ subject: SubjectLatents, count: Int, timestepRange: Range<Int>, rng: inout SeededGenerator
) -> (latents: Tensor, draws: DenoisingDraws) {
    let start = rng.integer(in: 0..<subject.imageCount)
    let indices = (0..<count).map { (start + $0) % subject.imageCount }
    let latents = subject.images(indices)
    let draws = DenoisingDraws.stratified(shape: latents.shape, timestepRange: timestepRange, rng: &rng)
    return (latents, draws)
}

/// Gradient of the subject's denoising loss with respect to every `A` and `B`
/// of `adapter`, treated as constants (first order), with the loss value.
public func adapterGradient(
    denoiser: Denoiser, schedule: NoiseSchedule, subject: SubjectLatents, adapter: Adapter,
    latents: Tensor, draws: DenoisingDraws
) -> (loss: Float, gradient: Adapter) {
    let point = adapter.detached()
    point.setRequiresGrad(true)
    let loss = denoisingLoss(
        denoiser: denoiser, schedule: schedule, latents: latents, conditions: subject.conditions(latents.shape[0]),
        timesteps: draws.timesteps, noise: draws.noise, adapter: point)
    loss.backward()
    var gradient = Adapter()
    for (name, weights) in point.slots {
        gradient.slots[name] = LoRAWeights(
            a: weights.a.grad ?? Tensor.zeros(weights.a.shape), b: weights.b.grad ?? Tensor.zeros(weights.b.shape),
            alpha: weights.alpha)
    }
    return (loss.item, gradient)
}
