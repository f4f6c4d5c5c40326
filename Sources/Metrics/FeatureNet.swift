import TensorCore

/// One stage of the feature net's backbone: a stride-2 3x3 convolution with
/// group norm and SiLU, then `blocks` residual units `x + SiLU(GN(conv(x)))`.
///
/// Parameters: `down.weight [C_out, C_in, 3, 3]`, `down_norm.*`,
/// `blocks.<i>.conv.weight [C_out, C_out, 3, 3]`, `blocks.<i>.norm.*`.
final class FeatureStage: Module {
    let down: Conv2d
    let downNorm: GroupNorm
    let convolutions: [Conv2d]
    let norms: [GroupNorm]

    init(inChannels: Int, outChannels: Int, blocks: Int, groups: Int, rng: inout SeededGenerator) {
        down = Conv2d(inChannels, outChannels, kernel: 3, stride: 2, padding: 1, rng: &rng)
        downNorm = GroupNorm(groups: groups, channels: outChannels)
        var convolutions: [Conv2d] = []
        var norms: [GroupNorm] = []
        for _ in 0..<blocks {
            convolutions.append(Conv2d(outChannels, outChannels, kernel: 3, stride: 1, padding: 1, rng: &rng))
            norms.append(GroupNorm(groups: groups, channels: outChannels))
        }
        self.convolutions = convolutions
        self.norms = norms
        super.init()
        child("down", down)
        child("down_norm", downNorm)
        let blockList = child("blocks", Module())
        for index in 0..<blocks {
            let block = blockList.child(String(index), Module())
            block.child("conv", convolutions[index])
            block.child("norm", norms[index])
        }
    }

    /// Maps `[B, C_in, H, W]` to `[B, C_out, ceil(H/2), ceil(W/2)]`.
    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = downNorm.withSiLU(down(x))
        for (convolution, norm) in zip(convolutions, norms) {
            h = h + norm.withSiLU(convolution(h))
        }
        return h
    }
}

/// A small convolutional encoder with an L2-normalized embedding, used as
/// the CLIP-I-style or the DINO-style feature net.
///
/// Images `[B, 3, R, R]` in [-1, 1] pass through the stages of
/// `configuration.stageChannels`, each halving the resolution, then a global
/// pooling (average, or learned per position) gives the backbone features
/// `[B, C_last]`. A projection head
/// `Linear(C_last, hidden) → GELU → Linear(hidden, D)` follows. The DINO-style
/// net adds a prototype layer whose rows are normalized in the forward pass
/// (DINO's weight-normalized last layer with its scale fixed to 1).
///
/// Parameter names: `stages.<i>.*`, `pool.weight [C_last, h, w]` for spatial
/// pooling, `head.hidden.*`, `head.output.*`, and `prototypes.weight [K, D]`
/// for self-distillation.
public final class FeatureNet: Module {
    public let configuration: FeatureNetConfiguration
    let stages: [FeatureStage]
    let headHidden: Linear
    let headOutput: Linear
    let prototypes: Linear?
    /// Weights of spatial pooling, `[C_last, h, w]` over the last map.
    let poolingWeight: Tensor?
    /// The fitted whitening of the flattened last map, `weight [K, C_last·h·w]`
    /// and `bias [K]`; never trained by gradients.
    let whitening: Linear?

    /// Builds a net with weights drawn from `seed`. The configuration must
    /// pass `validationError()`.
    public init(_ configuration: FeatureNetConfiguration, seed: UInt64 = 0) {
        if let problem = configuration.validationError() {
            preconditionFailure("FeatureNet: invalid configuration: \(problem)")
        }
        self.configuration = configuration
        var rng = SeededGenerator(seed: seed)
        var stages: [FeatureStage] = []
        var inChannels = 3
        for channels in configuration.stageChannels {
            stages.append(
                FeatureStage(
                    inChannels: inChannels, outChannels: channels, blocks: configuration.blocksPerStage,
                    groups: configuration.normGroups, rng: &rng))
            inChannels = channels
        }
        self.stages = stages
        headHidden = Linear(inChannels, configuration.headHiddenSize, rng: &rng)
        headOutput = Linear(configuration.headHiddenSize, configuration.embeddingSize, rng: &rng)
        prototypes = configuration.prototypeCount > 0
            ? Linear(configuration.embeddingSize, configuration.prototypeCount, bias: false, rng: &rng) : nil
        // Spatial pooling starts as average pooling.
        let mapSize = configuration.finalMapSize
        poolingWeight = configuration.pooling == .spatial
            ? Tensor(shape: [inChannels, mapSize, mapSize], repeating: 1 / Float(mapSize * mapSize)) : nil
        // Drawn last, so that nets with and without whitening share the
        // weights of every other layer for one seed. `fitWhitening` sets it.
        whitening = configuration.whitening.map { Linear(configuration.finalMapValues, $0.width, rng: &rng) }
        super.init()

        let stageList = child("stages", Module())
        for (index, stage) in stages.enumerated() {
            stageList.child(String(index), stage)
        }
        if let poolingWeight { child("pool", Module()).parameter("weight", poolingWeight) }
        let head = child("head", Module())
        head.child("hidden", headHidden)
        head.child("output", headOutput)
        if let prototypes { child("prototypes", prototypes) }
        if let whitening {
            child("whitening", whitening)
            whitening.setTrainable(false)
        }
    }

    /// Computes the last stage's feature map, `[B, 3, H, W]` to
    /// `[B, C_last, h, w]`, before pooling.
    public func lastFeatureMap(_ images: Tensor) -> Tensor {
        precondition(
            images.rank == 4 && images.shape[1] == 3,
            "FeatureNet: images must be [B, 3, H, W], got \(images.shape)")
        var h = images
        for stage in stages { h = stage(h) }
        return h
    }

    /// Computes the backbone features, `[B, 3, H, W]` to `[B, C_last]`, not
    /// normalized.
    public func backboneFeatures(_ images: Tensor) -> Tensor {
        let h = lastFeatureMap(images)
        guard let poolingWeight else { return h.mean(axes: [2, 3]) }

        precondition(
            Array(h.shape.dropFirst()) == poolingWeight.shape,
            "FeatureNet: spatial pooling expects a last map of \(poolingWeight.shape), got \(Array(h.shape.dropFirst())); "
                + "feed \(configuration.imageSize)x\(configuration.imageSize) images")
        return (h * poolingWeight.reshaped([1] + poolingWeight.shape)).sum(axes: [2, 3])
    }

    /// Applies the projection head, `[B, C_last]` to `[B, D]`, not normalized.
    public func project(_ features: Tensor) -> Tensor {
        headOutput(headHidden(features).gelu())
    }

    /// Computes the embedding that scores compare, `[B, embeddingWidth]`, each
    /// row of unit L2 norm.
    public func embed(_ images: Tensor) -> Tensor {
        switch configuration.embeddingSource {
        case .backbone: return backboneFeatures(images).l2Normalized()
        case .head: return project(backboneFeatures(images)).l2Normalized()
        case .whitened: return whitenedFeatures(images).l2Normalized()
        }
    }

    /// Applies the whitening to the flattened last map of `images`,
    /// `[B, 3, H, W]` to `[B, whitening.width]`, not normalized. The images
    /// must have the configuration's side.
    public func whitenedFeatures(_ images: Tensor) -> Tensor {
        guard let whitening else {
            preconditionFailure("FeatureNet: the whitened embedding needs a net with a whitening")
        }
        let map = lastFeatureMap(images)
        precondition(
            map.count == map.shape[0] * configuration.finalMapValues,
            "FeatureNet: the whitening expects \(configuration.imageSize)x\(configuration.imageSize) images, got \(images.shape)")
        return whitening(map.reshaped([map.shape[0], configuration.finalMapValues]))
    }

    /// Computes the DINO head's logits from backbone features, `[B, C_last]` to
    /// `[B, K]`: the cosines between the normalized projection and each prototype.
    public func prototypeLogits(_ features: Tensor) -> Tensor {
        guard let prototypes else {
            preconditionFailure("FeatureNet: prototypeLogits needs a self-distillation net with prototypes")
        }
        let projected = project(features).l2Normalized()
        return projected.linear(weight: prototypes.weight.l2Normalized(), bias: nil)
    }
}
