import TensorCore

/// Affine layer `y = x · Wᵀ + b` with `weight: [out, in]`, `bias: [out]`.
final class OptimizerTestLinear: Module {
    let weight: Tensor
    let bias: Tensor

    init(inputs: Int, outputs: Int, generator: inout SeededGenerator) {
        weight = generator.normalTensor([outputs, inputs], scale: 0.5)
        bias = generator.normalTensor([outputs], scale: 0.5)
        super.init()
        parameter("weight", weight)
        parameter("bias", bias)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        x.linear(weight: weight, bias: bias)
    }
}

/// Two linear layers under dotted names (`hidden.weight`, `head.bias`, …),
/// with no activation, which is enough for optimizer tests.
final class OptimizerTestModel: Module {
    let hidden: OptimizerTestLinear
    let head: OptimizerTestLinear

    init(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        hidden = OptimizerTestLinear(inputs: 3, outputs: 4, generator: &generator)
        head = OptimizerTestLinear(inputs: 4, outputs: 2, generator: &generator)
        super.init()
        child("hidden", hidden)
        child("head", head)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        head(hidden(x))
    }
}

/// Makes a trainable leaf tensor with the given values.
func optimizerTestParameter(_ values: [Float], shape: [Int]? = nil) -> Tensor {
    Tensor(shape: shape ?? [values.count], data: values, requiresGrad: true)
}

/// Largest absolute element-wise difference between two equal-length arrays.
func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "maxAbsoluteDifference: \(a.count) vs \(b.count) elements")
    return zip(a, b).map { Swift.abs($0 - $1) }.max() ?? 0
}
