import XCTest
import TensorCore

/// Compares the tape's gradients of `f` with central finite differences.
///
/// The scalar objective is `Σ f(inputs) ⊙ R` for a fixed random `R`, summed in
/// Double. Ops run in Float32, so the difference step is 1e-2 and the
/// tolerance is relative to the largest gradient: with inputs of order 1 the
/// truncation error is about h² ≈ 1e-4 and the rounding error about
/// 1e-7·|f|/h ≈ 1e-4, well under the 1e-2 bound, while a wrong factor, sign
/// or transposition in a backward pass gives errors of order 1.
///
/// - Parameters:
///   - maxProbes: elements checked per input (chosen at random when the input
///     is larger).
public func assertGradientsMatch(
    _ op: String, _ inputs: [Tensor], step: Float = 1e-2, tolerance: Float = 1e-2, maxProbes: Int = 48,
    file: StaticString = #filePath, line: UInt = #line,
    _ f: ([Tensor]) -> Tensor
) {
    var rng = SeededGenerator(seed: 99)
    for input in inputs { input.requiresGrad = true; input.grad = nil }

    let output = f(inputs)
    let projection = rng.normalTensor(output.shape)
    output.backward(seed: projection)

    func objective() -> Double {
        GradMode.withoutGradients {
            let value = f(inputs)
            var total = 0.0
            for (y, r) in zip(value.data, projection.data) { total += Double(y) * Double(r) }
            return total
        }
    }

    for (inputIndex, input) in inputs.enumerated() {
        let analytic = input.grad?.data ?? [Float](repeating: 0, count: input.count)
        var probes = Array(0..<input.count)
        if probes.count > maxProbes {
            rng.shuffle(&probes)
            probes = Array(probes.prefix(maxProbes))
        }
        var largestGradient: Float = 0
        var largestDifference: Float = 0
        var worstIndex = -1
        var numericAtWorst: Float = 0
        for index in probes {
            let original = input.data[index]
            input.data[index] = original + step
            let plus = objective()
            input.data[index] = original - step
            let minus = objective()
            input.data[index] = original
            let numeric = Float((plus - minus) / Double(2 * step))
            largestGradient = max(largestGradient, abs(numeric), abs(analytic[index]))
            let difference = abs(numeric - analytic[index])
            if difference > largestDifference {
                largestDifference = difference
                worstIndex = index
                numericAtWorst = numeric
            }
        }
        let bound = tolerance * max(largestGradient, 1e-3)
        XCTAssertLessThanOrEqual(
            largestDifference, bound,
            "\(op): input \(inputIndex) element \(worstIndex): analytic \(worstIndex >= 0 ? analytic[worstIndex] : 0), numeric \(numericAtWorst)",
            file: file, line: line)
        // A backward pass that produced nothing would pass the comparison
        // above only if the true gradient were zero too.
        XCTAssertGreaterThan(largestGradient, 0, "\(op): input \(inputIndex) has an all-zero gradient", file: file, line: line)
    }
}

/// Normal samples of the given shape from a fixed seed.
public func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SeededGenerator(seed: seed)
    return rng.normalTensor(shape, scale: scale)
}
