import Diffusion
import Foundation

/// A producer of the adapter at any convergence state `s` of a trajectory of
/// `S` steps. The hypernetwork field is one; an adapter file is a source
/// that stores a single state.
public protocol AdapterSource {
    /// `S`, the steps of the whole trajectory.
    var totalSteps: Int { get }
    /// Returns the adapter at convergence state `step`, in `0...totalSteps`.
    func adapter(atStep step: Int) -> Adapter
    /// Whether `adapter(atStep:)` gives every state of the trajectory. False
    /// for a source that stores one adapter.
    var holdsTrajectory: Bool { get }
    /// Names the source in messages, such as a file path.
    var label: String { get }
}

extension AdapterSource {
    public var holdsTrajectory: Bool { true }
    public var label: String { "the adapter source" }
}

/// An adapter read from a file: one convergence state, whatever step is
/// asked for.
public struct StoredAdapterSource: AdapterSource {
    public let adapter: Adapter
    public let label: String

    public init(adapter: Adapter, label: String) {
        self.adapter = adapter
        self.label = label
    }

    /// `S` from the adapter's metadata, or 0 when the metadata has none.
    public var totalSteps: Int { adapter.convergenceSteps ?? 0 }
    public var holdsTrajectory: Bool { false }

    public func adapter(atStep step: Int) -> Adapter { adapter }
}

/// A convergence state as the user writes it: a fraction of `S` or a whole
/// step.
public enum ConvergenceRequest: Equatable, Sendable, CustomStringConvertible {
    /// A fraction of `S` in `0...1`.
    case fraction(Double)
    /// A step in `0...S`.
    case step(Int)

    /// Parses a number with a decimal point or exponent ("0.5", "1.0",
    /// "5e-1") as a fraction and a whole number ("250") as a step. Returns
    /// nil for anything else.
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let step = Int(trimmed) {
            self = .step(step)
        } else if let fraction = Double(trimmed), fraction.isFinite {
            self = .fraction(fraction)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .fraction(let fraction): return "\(fraction)"
        case .step(let step): return "\(step)"
        }
    }

    /// Returns the step in `0...totalSteps` that this request names. A
    /// fraction is rounded to the nearest step.
    ///
    /// - Throws: `AdapterError.stepOutOfRange` for a fraction outside `0...1`
    ///   or a step outside `0...totalSteps`.
    public func resolvedStep(totalSteps: Int) throws -> Int {
        switch self {
        case .fraction(let fraction):
            guard (0...1).contains(fraction) else {
                throw AdapterError.stepOutOfRange(request: description, totalSteps: totalSteps)
            }
            return Int((fraction * Double(totalSteps)).rounded())
        case .step(let step):
            guard (0...totalSteps).contains(step) else {
                throw AdapterError.stepOutOfRange(request: description, totalSteps: totalSteps)
            }
            return step
        }
    }
}
