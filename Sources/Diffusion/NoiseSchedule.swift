import Foundation
import TensorCore

/// Variance schedule of the forward diffusion process over `T` training
/// timesteps: `z_t = √ᾱ_t · z_0 + √(1 − ᾱ_t) · ε`.
public struct NoiseSchedule: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
        /// Betas linear in `[1e-4, 0.02]`, as in DDPM (Ho et al., 2020).
        case linear
        /// ᾱ from a squared cosine (Nichol and Dhariwal, 2021), betas capped
        /// at 0.999.
        case cosine
    }

    public let kind: Kind
    /// Number of training timesteps `T`.
    public let timesteps: Int
    /// ᾱ_t for `t` in `0..<T`, computed in Double.
    public let alphasCumulative: [Double]

    public init(kind: Kind = .linear, timesteps: Int = 1000) {
        precondition(timesteps >= 2, "NoiseSchedule: needs at least 2 timesteps, got \(timesteps)")
        self.kind = kind
        self.timesteps = timesteps
        var betas = [Double](repeating: 0, count: timesteps)
        switch kind {
        case .linear:
            for t in 0..<timesteps {
                betas[t] = 1e-4 + (0.02 - 1e-4) * Double(t) / Double(timesteps - 1)
            }
        case .cosine:
            func f(_ t: Double) -> Double {
                let angle = (t / Double(timesteps) + 0.008) / 1.008 * Double.pi / 2
                return cos(angle) * cos(angle)
            }
            for t in 0..<timesteps {
                betas[t] = min(1 - f(Double(t + 1)) / f(Double(t)), 0.999)
            }
        }
        var product = 1.0
        alphasCumulative = betas.map { beta in
            product *= 1 - beta
            return product
        }
    }

    /// `√ᾱ_t` and `√(1 − ᾱ_t)`.
    public func coefficients(_ t: Int) -> (signal: Float, noise: Float) {
        let a = alphasCumulative[t]
        return (Float(a.squareRoot()), Float((1 - a).squareRoot()))
    }

    /// `z_t` for clean latents `z0 [B, ...]`, per-sample timesteps and noise
    /// of the same shape.
    public func addNoise(_ z0: Tensor, timesteps t: [Int], noise: Tensor) -> Tensor {
        precondition(z0.shape == noise.shape, "addNoise: latents \(z0.shape) and noise \(noise.shape) differ")
        precondition(t.count == z0.shape[0], "addNoise: \(t.count) timesteps for batch \(z0.shape[0])")
        let perSample = z0.count / max(z0.shape[0], 1)
        var signal = [Float](repeating: 0, count: z0.count)
        var noiseScale = [Float](repeating: 0, count: z0.count)
        for (index, step) in t.enumerated() {
            let (s, n) = coefficients(step)
            for j in 0..<perSample {
                signal[index * perSample + j] = s
                noiseScale[index * perSample + j] = n
            }
        }
        let shape = z0.shape
        return z0 * Tensor(shape: shape, data: signal) + noise * Tensor(shape: shape, data: noiseScale)
    }
}
