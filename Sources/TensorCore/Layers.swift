import Foundation

// Standard layers as modules. Weights use PyTorch's layouts and default
// initializations, so that files exchange with that ecosystem by name.

/// `y = x Wᵀ + b` with `weight: [out, in]`, `bias: [out]`; weights uniform in
/// `±1/√in` (PyTorch's default).
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias hasBias: Bool = true, rng: inout SeededGenerator) {
        let bound = 1 / Float(Swift.max(inFeatures, 1)).squareRoot()
        weight = rng.uniformTensor([outFeatures, inFeatures], -bound, bound)
        bias = hasBias ? rng.uniformTensor([outFeatures], -bound, bound) : nil
        super.init()
        parameter("weight", weight)
        if let bias { parameter("bias", bias) }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.linear(weight: weight, bias: bias)
    }
}

/// 2-D convolution with `weight: [out, in, k, k]` and `bias: [out]`; weights
/// uniform in `±1/√(in·k·k)`.
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int? = nil,
        bias hasBias: Bool = true, rng: inout SeededGenerator
    ) {
        let bound = 1 / Float(Swift.max(inChannels * kernel * kernel, 1)).squareRoot()
        weight = rng.uniformTensor([outChannels, inChannels, kernel, kernel], -bound, bound)
        bias = hasBias ? rng.uniformTensor([outChannels], -bound, bound) : nil
        self.stride = stride
        self.padding = padding ?? kernel / 2
        super.init()
        parameter("weight", weight)
        if let bias { parameter("bias", bias) }
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// Group normalization with `weight: [C]` (ones) and `bias: [C]` (zeros).
public final class GroupNorm: Module {
    public let groups: Int
    public let epsilon: Float
    public let weight: Tensor
    public let bias: Tensor

    public init(groups: Int, channels: Int, epsilon: Float = 1e-5) {
        precondition(channels % groups == 0, "GroupNorm: \(groups) groups do not divide \(channels) channels")
        self.groups = groups
        self.epsilon = epsilon
        weight = Tensor.ones([channels])
        bias = Tensor.zeros([channels])
        super.init()
        parameter("weight", weight)
        parameter("bias", bias)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.groupNorm(groups: groups, weight: weight, bias: bias, epsilon: epsilon)
    }

    /// `self(x).silu()` as one fused op (`Tensor.groupNormSiLU`).
    public func withSiLU(_ x: Tensor) -> Tensor {
        x.groupNormSiLU(groups: groups, weight: weight, bias: bias, epsilon: epsilon)
    }
}

/// Layer normalization over the last axis with `weight: [D]` (ones) and
/// `bias: [D]` (zeros).
public final class LayerNorm: Module {
    public let epsilon: Float
    public let weight: Tensor
    public let bias: Tensor

    public init(_ width: Int, epsilon: Float = 1e-5) {
        self.epsilon = epsilon
        weight = Tensor.ones([width])
        bias = Tensor.zeros([width])
        super.init()
        parameter("weight", weight)
        parameter("bias", bias)
    }

    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.layerNorm(weight: weight, bias: bias, epsilon: epsilon)
    }
}

/// Lookup table `weight: [V, D]`, initialized from `N(0, 1)` as PyTorch does.
public final class Embedding: Module {
    public let weight: Tensor

    public init(_ vocabulary: Int, _ width: Int, rng: inout SeededGenerator) {
        weight = rng.normalTensor([vocabulary, width])
        super.init()
        parameter("weight", weight)
    }

    public func callAsFunction(_ indices: [Int]) -> Tensor {
        Tensor.embedding(table: weight, indices: indices)
    }
}
