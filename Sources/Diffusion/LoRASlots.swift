import TensorCore

/// A linear layer that is a LoRA slot: `y = W·x + b + (alpha / r)·B·(A·x)`
/// when the adapter has an entry for `slotName`, else the plain linear map.
public final class AdaptableLinear: Module {
    public let base: Linear
    /// Dotted module path of this layer in its model, the adapter's key.
    public let slotName: String

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool, slotName: String, rng: inout SeededGenerator) {
        base = Linear(inFeatures, outFeatures, bias: bias, rng: &rng)
        self.slotName = slotName
        super.init()
        // Parameters sit directly under this module's path (`to_q.weight`).
        parameter("weight", base.weight)
        if let b = base.bias { parameter("bias", b) }
    }

    public var descriptor: SlotDescriptor {
        SlotDescriptor(
            name: slotName, kind: .linear, inFeatures: base.weight.shape[1], outFeatures: base.weight.shape[0], kernel: 1)
    }

    public func callAsFunction(_ x: Tensor, adapter: Adapter?) -> Tensor {
        let y = base(x)
        guard let lora = adapter?.slots[slotName] else { return y }
        precondition(
            lora.a.shape == descriptor.aShape(rank: lora.rank) && lora.b.shape == descriptor.bShape(rank: lora.rank),
            "adapter slot \(slotName): A \(lora.a.shape) and B \(lora.b.shape) do not fit a linear \(base.weight.shape[1]) → \(base.weight.shape[0])")
        // [..., in] → [..., r] → [..., out]
        let update = x.linear(weight: lora.a, bias: nil).linear(weight: lora.b, bias: nil)
        return y + update * lora.scale
    }
}

/// A convolution that is a LoRA slot: `A` is a convolution with the base
/// kernel's size, stride and padding to `r` channels, `B` a 1×1 convolution
/// back to the output channels.
public final class AdaptableConv2d: Module {
    public let base: Conv2d
    public let slotName: String

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, slotName: String, rng: inout SeededGenerator) {
        base = Conv2d(inChannels, outChannels, kernel: kernel, stride: stride, rng: &rng)
        self.slotName = slotName
        super.init()
        parameter("weight", base.weight)
        if let b = base.bias { parameter("bias", b) }
    }

    public var descriptor: SlotDescriptor {
        SlotDescriptor(
            name: slotName, kind: .conv, inFeatures: base.weight.shape[1], outFeatures: base.weight.shape[0],
            kernel: base.weight.shape[2])
    }

    public func callAsFunction(_ x: Tensor, adapter: Adapter?) -> Tensor {
        let y = base(x)
        guard let lora = adapter?.slots[slotName] else { return y }
        precondition(
            lora.a.shape == descriptor.aShape(rank: lora.rank) && lora.b.shape == descriptor.bShape(rank: lora.rank),
            "adapter slot \(slotName): A \(lora.a.shape) and B \(lora.b.shape) do not fit convolution \(base.weight.shape)")
        let down = x.conv2d(weight: lora.a, bias: nil, stride: base.stride, padding: base.padding)
        let update = down.conv2d(weight: lora.b, bias: nil, stride: 1, padding: 0)
        return y + update * lora.scale
    }
}
