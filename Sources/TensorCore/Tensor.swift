import Foundation

/// A contiguous, row-major Float32 tensor that can take part in reverse-mode
/// automatic differentiation.
///
/// Tensors are reference types so that the tape can accumulate gradients into
/// the same object the caller holds. Image tensors use the NCHW layout
/// (`[B, C, H, W]`). Every op returns a new tensor; views are explicit copies.
public final class Tensor {
    /// Extent of each axis, outermost first. A rank-0 tensor has shape `[]`.
    public private(set) var shape: [Int]

    /// Elements in row-major order; `data.count == shape.product`.
    public var data: [Float]

    /// Whether backward passes should compute a gradient for this tensor.
    public var requiresGrad: Bool

    /// Accumulated gradient, shaped like `shape`, or nil before any backward
    /// pass reached this tensor.
    public var grad: Tensor?

    /// The recorded op that produced this tensor, or nil for leaves and for
    /// results computed without gradient tracking.
    var node: TapeNode?

    /// Human-readable label used in error messages (parameter names).
    public var name: String?

    public init(shape: [Int], data: [Float], requiresGrad: Bool = false) {
        precondition(
            shape.allSatisfy { $0 >= 0 },
            "Tensor: negative extent in shape \(shape)")
        precondition(
            shapeElementCount(shape) == data.count,
            "Tensor: shape \(shape) needs \(shapeElementCount(shape)) elements, got \(data.count)")
        self.shape = shape
        self.data = data
        self.requiresGrad = requiresGrad
    }

    /// Creates a tensor of the given shape filled with `value`.
    public convenience init(shape: [Int], repeating value: Float, requiresGrad: Bool = false) {
        self.init(
            shape: shape, data: [Float](repeating: value, count: shapeElementCount(shape)),
            requiresGrad: requiresGrad)
    }

    /// Creates a rank-0 tensor that contains one value.
    public convenience init(scalar: Float, requiresGrad: Bool = false) {
        self.init(shape: [], data: [scalar], requiresGrad: requiresGrad)
    }

    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, repeating: 0, requiresGrad: requiresGrad)
    }

    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        Tensor(shape: shape, repeating: 1, requiresGrad: requiresGrad)
    }

    /// Number of elements.
    public var count: Int { data.count }

    /// Number of axes.
    public var rank: Int { shape.count }

    /// The single value of a one-element tensor.
    public var item: Float {
        precondition(data.count == 1, "item: tensor of shape \(shape) has \(data.count) elements, expected 1")
        return data[0]
    }

    /// Returns a copy that shares no tape history with `self` and does not
    /// require gradients.
    public func detached() -> Tensor {
        Tensor(shape: shape, data: data)
    }

    /// Replaces the shape in place without copying; the element count must not
    /// change. Used by layers that own their buffers; ops use `reshaped`.
    public func setShape(_ newShape: [Int]) {
        precondition(
            shapeElementCount(newShape) == data.count,
            "setShape: \(shape) has \(data.count) elements, \(newShape) needs \(shapeElementCount(newShape))")
        shape = newShape
    }

    /// Sets the accumulated gradient to nil.
    public func zeroGrad() {
        grad = nil
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = data.prefix(8).map { String(format: "%.4g", Double($0)) }.joined(separator: ", ")
        let more = data.count > 8 ? ", …" : ""
        return "Tensor(shape: \(shape), data: [\(preview)\(more)])"
    }
}

/// Product of the extents in `shape`; 1 for a rank-0 shape.
public func shapeElementCount(_ shape: [Int]) -> Int {
    shape.reduce(1, *)
}

/// Row-major strides of `shape`, in elements.
public func rowMajorStrides(_ shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var running = 1
    for axis in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[axis] = running
        running *= shape[axis]
    }
    return strides
}

/// Normalizes a possibly negative axis index against `rank`, stopping with a
/// message that names the op when it is out of range.
func normalizedAxis(_ axis: Int, rank: Int, op: String) -> Int {
    let resolved = axis < 0 ? axis + rank : axis
    precondition(resolved >= 0 && resolved < rank, "\(op): axis \(axis) is out of range for rank \(rank)")
    return resolved
}
