import TensorCore

/// Sizes of the autoencoder, stored as JSON with its weights.
public struct AutoencoderConfiguration: Codable, Equatable, Sendable {
    /// Image side `R`, in pixels.
    public var imageSize = 64
    /// Channels of the latent.
    public var latentChannels = 4
    /// Feature channels at full and half resolution; the quarter-resolution
    /// stages use twice `baseChannels`.
    public var baseChannels = 32
    /// Groups of every group norm.
    public var groups = 8

    public init() {}

    /// Side of the latent: `R / 4`.
    public var latentSize: Int { imageSize / 4 }

    public func validationError() -> String? {
        if imageSize % 4 != 0 { return "image size \(imageSize) is not a multiple of 4" }
        if baseChannels % groups != 0 { return "groups \(groups) does not divide base channels \(baseChannels)" }
        return nil
    }
}

/// Convolutional autoencoder from images `[B, 3, R, R]` in `[-1, 1]` to latents
/// `[B, C_z, R/4, R/4]` and back.
///
///     encoder: conv_in (C) → stride-2 conv (C) → res (C→2C) → stride-2 conv → res (2C) → conv_out (C_z)
///     decoder: conv_in (2C) → res (2C) → up, conv → res (2C→C) → up, conv → conv_out (3)
///
/// Latents are raw encoder outputs; `LatentNormalization` maps them to zero
/// mean and unit variance per channel for the denoiser.
public final class Autoencoder: Module {
    public let configuration: AutoencoderConfiguration

    let encoderIn: Conv2d
    let encoderDown1: Conv2d
    let encoderResidual1: ResidualBlock
    let encoderDown2: Conv2d
    let encoderResidual2: ResidualBlock
    let encoderNorm: GroupNorm
    let encoderOut: Conv2d

    let decoderIn: Conv2d
    let decoderResidual1: ResidualBlock
    let decoderUp1: Conv2d
    let decoderResidual2: ResidualBlock
    let decoderUp2: Conv2d
    let decoderNorm: GroupNorm
    let decoderOut: Conv2d

    public init(_ configuration: AutoencoderConfiguration, seed: UInt64 = 0) {
        if let problem = configuration.validationError() {
            preconditionFailure("Autoencoder configuration: \(problem)")
        }
        self.configuration = configuration
        var rng = SeededGenerator(seed: seed)
        let c = configuration.baseChannels, z = configuration.latentChannels, g = configuration.groups

        encoderIn = Conv2d(3, c, kernel: 3, rng: &rng)
        encoderDown1 = Conv2d(c, c, kernel: 3, stride: 2, rng: &rng)
        encoderResidual1 = ResidualBlock(c, 2 * c, embeddingWidth: nil, groups: g, path: "encoder.res1", rng: &rng)
        encoderDown2 = Conv2d(2 * c, 2 * c, kernel: 3, stride: 2, rng: &rng)
        encoderResidual2 = ResidualBlock(2 * c, 2 * c, embeddingWidth: nil, groups: g, path: "encoder.res2", rng: &rng)
        encoderNorm = GroupNorm(groups: g, channels: 2 * c)
        encoderOut = Conv2d(2 * c, z, kernel: 3, rng: &rng)

        decoderIn = Conv2d(z, 2 * c, kernel: 3, rng: &rng)
        decoderResidual1 = ResidualBlock(2 * c, 2 * c, embeddingWidth: nil, groups: g, path: "decoder.res1", rng: &rng)
        decoderUp1 = Conv2d(2 * c, 2 * c, kernel: 3, rng: &rng)
        decoderResidual2 = ResidualBlock(2 * c, c, embeddingWidth: nil, groups: g, path: "decoder.res2", rng: &rng)
        decoderUp2 = Conv2d(c, c, kernel: 3, rng: &rng)
        decoderNorm = GroupNorm(groups: g, channels: c)
        decoderOut = Conv2d(c, 3, kernel: 3, rng: &rng)

        super.init()
        let encoder = child("encoder", Module())
        encoder.child("conv_in", encoderIn)
        encoder.child("down1", encoderDown1)
        encoder.child("res1", encoderResidual1)
        encoder.child("down2", encoderDown2)
        encoder.child("res2", encoderResidual2)
        encoder.child("norm_out", encoderNorm)
        encoder.child("conv_out", encoderOut)
        let decoder = child("decoder", Module())
        decoder.child("conv_in", decoderIn)
        decoder.child("res1", decoderResidual1)
        decoder.child("up1", decoderUp1)
        decoder.child("res2", decoderResidual2)
        decoder.child("up2", decoderUp2)
        decoder.child("norm_out", decoderNorm)
        decoder.child("conv_out", decoderOut)
    }

    /// Raw latents `[B, C_z, R/4, R/4]` of images `[B, 3, R, R]`.
    public func encode(_ images: Tensor) -> Tensor {
        let r = configuration.imageSize
        precondition(
            images.rank == 4 && Array(images.shape[1...]) == [3, r, r],
            "Autoencoder.encode: images \(images.shape) do not match [B, 3, \(r), \(r)]")
        var h = encoderIn(images)
        h = encoderDown1(h.silu())
        h = encoderResidual1(h, embedding: nil, adapter: nil)
        h = encoderDown2(h)
        h = encoderResidual2(h, embedding: nil, adapter: nil)
        return encoderOut(encoderNorm.withSiLU(h))
    }

    /// Images `[B, 3, R, R]` (about `[-1, 1]`, not clamped) of raw latents.
    public func decode(_ latents: Tensor) -> Tensor {
        let s = configuration.latentSize
        precondition(
            latents.rank == 4 && Array(latents.shape[1...]) == [configuration.latentChannels, s, s],
            "Autoencoder.decode: latents \(latents.shape) do not match [B, \(configuration.latentChannels), \(s), \(s)]")
        var h = decoderIn(latents)
        h = decoderResidual1(h, embedding: nil, adapter: nil)
        h = decoderUp1(h.upsampleNearest2x())
        h = decoderResidual2(h, embedding: nil, adapter: nil)
        h = decoderUp2(h.upsampleNearest2x())
        return decoderOut(decoderNorm.withSiLU(h))
    }
}

/// Per-channel mean and standard deviation of raw latents over a training
/// set; the denoiser works on `(z − mean) / std`.
public struct LatentNormalization: Codable, Equatable, Sendable {
    public var mean: [Float]
    public var standardDeviation: [Float]

    public init(mean: [Float], standardDeviation: [Float]) {
        precondition(mean.count == standardDeviation.count, "LatentNormalization: \(mean.count) means, \(standardDeviation.count) deviations")
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// Statistics of raw latents `[B, C, H, W]`.
    public init(measuring latents: Tensor) {
        let channels = latents.shape[1]
        let plane = latents.shape[2] * latents.shape[3]
        var sums = [Double](repeating: 0, count: channels)
        var squares = [Double](repeating: 0, count: channels)
        for n in 0..<latents.shape[0] {
            for c in 0..<channels {
                for j in 0..<plane {
                    let v = Double(latents.data[(n * channels + c) * plane + j])
                    sums[c] += v
                    squares[c] += v * v
                }
            }
        }
        let count = Double(latents.shape[0] * plane)
        mean = sums.map { Float($0 / count) }
        standardDeviation = zip(sums, squares).map { sum, square in
            let m = sum / count
            return Float(max(square / count - m * m, 1e-12).squareRoot())
        }
    }

    private func perChannel(_ values: [Float], _ shape: [Int]) -> Tensor {
        Tensor(shape: [1, values.count, 1, 1], data: values)
    }

    /// `(z − mean) / std`, per channel.
    public func normalize(_ raw: Tensor) -> Tensor {
        (raw - perChannel(mean, raw.shape)) / perChannel(standardDeviation, raw.shape)
    }

    /// `z · std + mean`, per channel.
    public func denormalize(_ normalized: Tensor) -> Tensor {
        normalized * perChannel(standardDeviation, normalized.shape) + perChannel(mean, normalized.shape)
    }
}
