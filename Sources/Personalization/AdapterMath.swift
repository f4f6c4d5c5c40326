import Diffusion
import TensorCore

/// Element-wise arithmetic on adapters as flat vectors (`A` and `B` of every
/// slot), for trajectory comparisons. Both adapters must have the same slots
/// and shapes.
public enum AdapterMath {
    /// Returns all `A` then `B` values, slots in sorted order.
    public static func flatten(_ adapter: Adapter) -> [Float] {
        var values: [Float] = []
        for name in adapter.slotNames {
            values += adapter.slots[name]!.a.data
            values += adapter.slots[name]!.b.data
        }
        return values
    }

    /// `a + scale · b`, slot by slot.
    public static func adding(_ a: Adapter, _ b: Adapter, scale: Float) -> Adapter {
        var result = Adapter(metadata: a.metadata)
        for (name, left) in a.slots {
            guard let right = b.slots[name] else { preconditionFailure("AdapterMath: slot \(name) is missing from the second adapter") }
            let newA = zip(left.a.data, right.a.data).map { $0 + scale * $1 }
            let newB = zip(left.b.data, right.b.data).map { $0 + scale * $1 }
            result.slots[name] = LoRAWeights(
                a: Tensor(shape: left.a.shape, data: newA), b: Tensor(shape: left.b.shape, data: newB), alpha: left.alpha)
        }
        return result
    }

    /// Cosine similarity of two flattened adapter differences.
    public static func cosine(_ x: [Float], _ y: [Float]) -> Double {
        var dot = 0.0, xx = 0.0, yy = 0.0
        for (a, b) in zip(x, y) {
            dot += Double(a) * Double(b)
            xx += Double(a) * Double(a)
            yy += Double(b) * Double(b)
        }
        return dot / max((xx * yy).squareRoot(), 1e-30)
    }

    /// `‖x − y‖ / ‖y‖`.
    public static func relativeError(_ x: [Float], _ y: [Float]) -> Double {
        var difference = 0.0, reference = 0.0
        for (a, b) in zip(x, y) {
            difference += Double(a - b) * Double(a - b)
            reference += Double(b) * Double(b)
        }
        return (difference / max(reference, 1e-30)).squareRoot()
    }

    /// `x − y`.
    public static func subtract(_ x: [Float], _ y: [Float]) -> [Float] {
        zip(x, y).map { $0 - $1 }
    }
}
