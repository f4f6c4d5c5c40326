import Diffusion
import Foundation
import TensorCore

/// Classic per-subject LoRA training (DreamBooth-LoRA): an optimizer on the
/// subject's denoising loss, from the initial adapter, over the same slots the
/// field writes. With plain SGD at the field's rate `η` its path
/// `θ_0, θ_1, …, θ_S` is the trajectory the field learns to predict.
public struct PerSubjectTraining {
    public enum Method: Equatable, Sendable {
        /// Plain gradient descent at this rate.
        case sgd(learningRate: Float)
        /// Adam at this rate.
        case adam(learningRate: Float)
    }

    public var method: Method
    /// Optimizer steps `S`.
    public var steps: Int
    /// Loss draws per step (latents × timesteps × noise).
    public var drawsPerStep: Int
    public var timestepRange: Range<Int>

    public init(method: Method, steps: Int, drawsPerStep: Int = 16, timestepRange: Range<Int> = 0..<1000) {
        self.method = method
        self.steps = steps
        self.drawsPerStep = drawsPerStep
        self.timestepRange = timestepRange
    }

    /// Trains from `initial` and returns the adapters after each step listed
    /// in `snapshots` (0 gives `initial`).
    public func run(
        denoiser: Denoiser, schedule: NoiseSchedule, subject: SubjectLatents, initial: Adapter,
        snapshots: Set<Int>, rng: inout SeededGenerator, progress: ((Int, Float) -> Void)? = nil
    ) -> [Int: Adapter] {
        var result: [Int: Adapter] = [:]
        if snapshots.contains(0) { result[0] = initial.detached() }
        let current = initial.detached()
        current.setRequiresGrad(true)
        let parameters = current.slotNames.flatMap { name -> [(name: String, tensor: Tensor)] in
            [(name + ".lora_A", current.slots[name]!.a), (name + ".lora_B", current.slots[name]!.b)]
        }
        let optimizer: Optimizer
        switch method {
        case .sgd(let rate): optimizer = SGD(parameters: parameters, learningRate: rate)
        case .adam(let rate): optimizer = Adam(parameters: parameters, learningRate: rate)
        }

        for step in 1...max(steps, 1) where steps > 0 {
            let (latents, draws) = subjectLossBatch(subject, count: drawsPerStep, timestepRange: timestepRange, rng: &rng)
            optimizer.zeroGrad()
            let loss = denoisingLoss(
                denoiser: denoiser, schedule: schedule, latents: latents, conditions: subject.conditions(latents.shape[0]),
                timesteps: draws.timesteps, noise: draws.noise, adapter: current)
            loss.backward()
            optimizer.step()
            progress?(step, loss.item)
            if snapshots.contains(step) { result[step] = current.detached() }
        }
        return result
    }
}
