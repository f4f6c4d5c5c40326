import Foundation

/// Learning rate as a function of the optimizer step: constant, or a linear
/// warm-up followed by a cosine decay to a minimum.
///
/// Steps count from 0, the first optimizer step. With `W = warmupSteps` and
/// `T = totalSteps`, the warm-up-cosine schedule is
///
///     step < W:       peak * (step + 1) / W
///     W <= step < T:  minimum + (peak - minimum) * (1 + cos(π (step - W) / (T - W))) / 2
///     step >= T:      minimum
///
/// so the first step already moves (`peak / W`), steps `W - 1` and `W` use
/// the peak, step `W + (T - W) / 2` uses the mean of peak and minimum, and
/// the rate stays at the minimum from step `T` on.
///
/// Use it as `optimizer.learningRate = schedule.learningRate(atStep: step)`
/// before each `optimizer.step()`.
public struct LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case constant
        case warmupCosine = "warmup_cosine"
    }

    public let kind: Kind
    /// Rate at the end of warm-up, and the rate of a constant schedule.
    public let peakRate: Float
    /// Rate at and after `totalSteps`; equals `peakRate` for a constant
    /// schedule.
    public let minimumRate: Float
    /// Steps of linear warm-up; 0 for none.
    public let warmupSteps: Int
    /// Step at which the cosine decay reaches `minimumRate`, counting the
    /// warm-up; 0 for a constant schedule.
    public let totalSteps: Int

    /// Makes a schedule with the same `rate` at every step.
    public static func constant(_ rate: Float) -> LearningRateSchedule {
        precondition(rate.isFinite && rate >= 0, "LearningRateSchedule: rate \(rate) must be finite and non-negative")
        return LearningRateSchedule(kind: .constant, peakRate: rate, minimumRate: rate, warmupSteps: 0, totalSteps: 0)
    }

    /// Makes a schedule with a linear warm-up over `warmupSteps` to
    /// `peakRate`, then a cosine decay to `minimumRate` at step `totalSteps`.
    public static func warmupCosine(
        peakRate: Float, minimumRate: Float = 0, warmupSteps: Int, totalSteps: Int
    ) -> LearningRateSchedule {
        precondition(peakRate.isFinite && peakRate >= 0, "LearningRateSchedule: peak rate \(peakRate) must be finite and non-negative")
        precondition(
            minimumRate >= 0 && minimumRate <= peakRate,
            "LearningRateSchedule: minimum rate \(minimumRate) must be between 0 and the peak rate \(peakRate)")
        precondition(warmupSteps >= 0, "LearningRateSchedule: warm-up steps \(warmupSteps) must not be negative")
        precondition(
            totalSteps >= 1 && totalSteps >= warmupSteps,
            "LearningRateSchedule: total steps \(totalSteps) must be at least 1 and at least the warm-up steps \(warmupSteps)")
        return LearningRateSchedule(
            kind: .warmupCosine, peakRate: peakRate, minimumRate: minimumRate,
            warmupSteps: warmupSteps, totalSteps: totalSteps)
    }

    private init(kind: Kind, peakRate: Float, minimumRate: Float, warmupSteps: Int, totalSteps: Int) {
        self.kind = kind
        self.peakRate = peakRate
        self.minimumRate = minimumRate
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// Returns the rate for optimizer step `step`, counted from 0.
    public func learningRate(atStep step: Int) -> Float {
        precondition(step >= 0, "LearningRateSchedule: step \(step) must not be negative")
        switch kind {
        case .constant:
            return peakRate
        case .warmupCosine:
            if step < warmupSteps {
                return Float(Double(peakRate) * Double(step + 1) / Double(warmupSteps))
            }
            if step >= totalSteps {
                return minimumRate
            }
            let progress = Double(step - warmupSteps) / Double(totalSteps - warmupSteps)
            let cosineFactor = 0.5 * (1 + Foundation.cos(Double.pi * progress))
            return Float(Double(minimumRate) + (Double(peakRate) - Double(minimumRate)) * cosineFactor)
        }
    }

    public var description: String {
        switch kind {
        case .constant:
            return "constant learning rate \(peakRate)"
        case .warmupCosine:
            return "learning rate warm-up over \(warmupSteps) steps to \(peakRate), cosine decay to \(minimumRate) at step \(totalSteps)"
        }
    }
}
