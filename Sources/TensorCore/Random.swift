import Foundation

/// The one seeded random generator of the engine: xoshiro256** seeded through
/// SplitMix64. The same seed gives the same sequence on every machine.
///
/// Its state can be saved into a checkpoint and restored, so that a resumed
/// training run draws the same numbers as an uninterrupted one.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    /// Second value of the last Box–Muller pair, used by the next `normal()`.
    private var spareNormal: Float?

    public init(seed: UInt64) {
        var mixer = seed
        func splitMix() -> UInt64 {
            mixer &+= 0x9E37_79B9_7F4A_7C15
            var z = mixer
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
    }

    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    private func rotateLeft(_ value: UInt64, _ count: UInt64) -> UInt64 {
        (value << count) | (value >> (64 - count))
    }

    /// Uniform in `[0, 1)`, with 24 random bits.
    public mutating func uniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in `[lower, upper)`.
    public mutating func uniform(_ lower: Float, _ upper: Float) -> Float {
        lower + (upper - lower) * uniform()
    }

    /// Standard normal, by the Box–Muller transform.
    public mutating func normal() -> Float {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        // u1 in (0, 1] so that log(u1) is finite.
        let u1 = Double((next() >> 11) + 1) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        let radius = (-2 * Foundation.log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareNormal = Float(radius * Foundation.sin(angle))
        return Float(radius * Foundation.cos(angle))
    }

    /// Uniform integer in `range`, without modulo bias.
    public mutating func integer(in range: Range<Int>) -> Int {
        precondition(!range.isEmpty, "integer(in:): empty range \(range)")
        return Int.random(in: range, using: &self)
    }

    /// Shuffles `values` in place (Fisher–Yates).
    public mutating func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for i in stride(from: values.count - 1, to: 0, by: -1) {
            let j = integer(in: 0..<(i + 1))
            if i != j { values.swapAt(i, j) }
        }
    }

    /// Tensor of standard normal samples.
    public mutating func normalTensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        var values = [Float](repeating: 0, count: shapeElementCount(shape))
        for i in values.indices { values[i] = normal() * scale }
        return Tensor(shape: shape, data: values)
    }

    /// Tensor of samples uniform in `[lower, upper)`.
    public mutating func uniformTensor(_ shape: [Int], _ lower: Float, _ upper: Float) -> Tensor {
        var values = [Float](repeating: 0, count: shapeElementCount(shape))
        for i in values.indices { values[i] = uniform(lower, upper) }
        return Tensor(shape: shape, data: values)
    }

    /// The complete state as five words, for checkpoints: the four xoshiro
    /// words and the spare normal's bit pattern (with a presence flag in the
    /// high half).
    public var savedState: [UInt64] {
        let spare = spareNormal.map { (UInt64(1) << 32) | UInt64($0.bitPattern) } ?? 0
        return [state.0, state.1, state.2, state.3, spare]
    }

    /// Restores a state produced by `savedState`.
    public init(savedState words: [UInt64]) throws {
        guard words.count == 5 else {
            throw TensorCoreError.invalidState("random generator state has \(words.count) words, expected 5")
        }
        state = (words[0], words[1], words[2], words[3])
        spareNormal = (words[4] >> 32) == 1 ? Float(bitPattern: UInt32(truncatingIfNeeded: words[4])) : nil
    }
}

/// Errors of the tensor core that callers can recover from (bad files, bad
/// saved state); programming errors such as shape mismatches stop with a
/// precondition instead.
public enum TensorCoreError: Error, CustomStringConvertible {
    case invalidState(String)
    case missingParameter(String)
    case shapeMismatch(String)

    public var description: String {
        switch self {
        case .invalidState(let message): return message
        case .missingParameter(let message): return message
        case .shapeMismatch(let message): return message
        }
    }
}
