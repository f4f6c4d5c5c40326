import Foundation

// Losses and similarity measures, fused so that each is one tape entry.

extension Tensor {
    /// Mean squared error between two tensors of equal shape, as a scalar.
    public static func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        precondition(prediction.shape == target.shape, "mseLoss: shapes \(prediction.shape) and \(target.shape) differ")
        let n = Float(Swift.max(prediction.count, 1))
        let difference = elementZip(prediction.data, target.data) { $0 - $1 }
        var total = 0.0
        for d in difference { total += Double(d * d) }
        return record("mse_loss", shape: [], data: [Float(total) / n], inputs: [prediction, target]) { outGrad in
            let scale = 2 * outGrad[0] / n
            let grad = elementMap(difference) { $0 * scale }
            prediction.accumulateGrad(grad)
            if target.requiresGrad { target.accumulateGrad(elementMap(grad) { -$0 }) }
        }
    }

    /// Mean absolute error between two tensors of equal shape, as a scalar.
    public static func l1Loss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
        precondition(prediction.shape == target.shape, "l1Loss: shapes \(prediction.shape) and \(target.shape) differ")
        let n = Float(Swift.max(prediction.count, 1))
        let difference = elementZip(prediction.data, target.data) { $0 - $1 }
        var total = 0.0
        for d in difference { total += Double(Swift.abs(d)) }
        return record("l1_loss", shape: [], data: [Float(total) / n], inputs: [prediction, target]) { outGrad in
            let scale = outGrad[0] / n
            let grad = elementMap(difference) { d in d > 0 ? scale : (d < 0 ? -scale : 0) }
            prediction.accumulateGrad(grad)
            if target.requiresGrad { target.accumulateGrad(elementMap(grad) { -$0 }) }
        }
    }

    /// Mean cross-entropy of `logits [N, K]` against class indices
    /// `targets` (N values in `0..<K`), as a scalar.
    public static func crossEntropyLoss(logits: Tensor, targets: [Int]) -> Tensor {
        precondition(logits.rank == 2, "crossEntropyLoss: logits must be [N, K], got \(logits.shape)")
        let rows = logits.shape[0], classes = logits.shape[1]
        precondition(targets.count == rows, "crossEntropyLoss: \(targets.count) targets for \(rows) rows of logits")
        for (row, target) in targets.enumerated() {
            precondition(target >= 0 && target < classes, "crossEntropyLoss: target \(target) of row \(row) is outside 0..<\(classes)")
        }
        let probabilities = softmaxRows(logits.data, rows: rows, width: classes)
        var total = 0.0
        for (row, target) in targets.enumerated() {
            total -= Foundation.log(Swift.max(Double(probabilities[row * classes + target]), 1e-45))
        }
        let n = Float(Swift.max(rows, 1))
        return record("cross_entropy_loss", shape: [], data: [Float(total) / Float(n)], inputs: [logits]) { outGrad in
            // d/dlogits = (softmax − onehot) / N
            var grad = probabilities
            for (row, target) in targets.enumerated() { grad[row * classes + target] -= 1 }
            let scale = outGrad[0] / n
            logits.accumulateGrad(elementMap(grad) { $0 * scale })
        }
    }

    /// Cosine similarity of `a` and `b` along the last axis: for `[..., D]`
    /// inputs a `[...]` result. Norms are clamped below by `epsilon`.
    public static func cosineSimilarity(_ a: Tensor, _ b: Tensor, epsilon: Float = 1e-8) -> Tensor {
        precondition(a.shape == b.shape && a.rank >= 1, "cosineSimilarity: shapes \(a.shape) and \(b.shape) must match")
        let width = a.shape[a.rank - 1]
        let rows = width == 0 ? 0 : a.count / width
        var cosines = [Float](repeating: 0, count: rows)
        var normsA = [Float](repeating: 0, count: rows)
        var normsB = [Float](repeating: 0, count: rows)
        for row in 0..<rows {
            var dot: Float = 0, squaresA: Float = 0, squaresB: Float = 0
            for j in 0..<width {
                let x = a.data[row * width + j], y = b.data[row * width + j]
                dot += x * y
                squaresA += x * x
                squaresB += y * y
            }
            normsA[row] = Swift.max(squaresA.squareRoot(), epsilon)
            normsB[row] = Swift.max(squaresB.squareRoot(), epsilon)
            cosines[row] = dot / (normsA[row] * normsB[row])
        }
        return record("cosine_similarity", shape: Array(a.shape.dropLast()), data: cosines, inputs: [a, b]) { outGrad in
            // d cos / da = b / (|a||b|) − cos · a / |a|²
            var gradA = [Float](repeating: 0, count: a.count)
            var gradB = [Float](repeating: 0, count: b.count)
            for row in 0..<rows {
                let g = outGrad[row], c = cosines[row], na = normsA[row], nb = normsB[row]
                for j in 0..<width {
                    let x = a.data[row * width + j], y = b.data[row * width + j]
                    gradA[row * width + j] = g * (y / (na * nb) - c * x / (na * na))
                    gradB[row * width + j] = g * (x / (na * nb) - c * y / (nb * nb))
                }
            }
            a.accumulateGrad(gradA)
            b.accumulateGrad(gradB)
        }
    }

    /// Divides each row of `[..., D]` by `sqrt(|row|² + epsilon)`, so rows
    /// have unit length; `epsilon` keeps the gradient finite at zero.
    public func l2Normalized(epsilon: Float = 1e-12) -> Tensor {
        let norms = (square().sum(axes: [-1], keepDims: true) + epsilon).sqrt()
        return self / norms
    }

    /// Rows of `table [V, D]` at `indices`: `[indices.count, D]`. The gradient
    /// is scattered back onto the rows of the table.
    public static func embedding(table: Tensor, indices: [Int]) -> Tensor {
        precondition(table.rank == 2, "embedding: table must be [V, D], got \(table.shape)")
        let vocabulary = table.shape[0], width = table.shape[1]
        var out = [Float](repeating: 0, count: indices.count * width)
        for (row, index) in indices.enumerated() {
            precondition(index >= 0 && index < vocabulary, "embedding: index \(index) is outside 0..<\(vocabulary)")
            for j in 0..<width { out[row * width + j] = table.data[index * width + j] }
        }
        return record("embedding", shape: [indices.count, width], data: out, inputs: [table]) { outGrad in
            var grad = [Float](repeating: 0, count: table.count)
            for (row, index) in indices.enumerated() {
                for j in 0..<width { grad[index * width + j] += outGrad[row * width + j] }
            }
            table.accumulateGrad(grad)
        }
    }
}
