/// Every size of the denoiser. Stored as JSON in the weights file's metadata,
/// so a file always rebuilds the architecture it was trained with.
public struct DenoiserConfiguration: Codable, Equatable, Sendable {
    /// Channels of the latent `z` (the autoencoder's latent channels).
    public var latentChannels = 4
    /// Side of the square latent, in latent pixels.
    public var latentSize = 16
    /// Feature channels per U-Net level, from the full latent resolution down;
    /// each further level halves the side.
    public var channels = [32, 64, 128]
    /// Levels (indices into `channels`) with a transformer block after the
    /// residual block; the middle block always has one.
    public var attentionLevels = [1, 2]
    /// Attention heads in every transformer block.
    public var heads = 4
    /// Groups of every group norm; must divide every entry of `channels`.
    public var groups = 8
    /// Width of the condition tokens.
    public var contextWidth = 64
    /// Subject classes (face, cat, dog); one more token index is the null
    /// class used for guidance dropout.
    public var classCount = 3
    /// Whether the 3×3 convolutions of the residual blocks are LoRA slots.
    public var convolutionSlots = false

    public init() {}

    /// Index of the null class token.
    public var nullClass: Int { classCount }

    /// Checks that the sizes fit together; returns a message naming the first
    /// problem, or nil.
    public func validationError() -> String? {
        if channels.isEmpty { return "channels is empty; give at least one level" }
        if let bad = channels.first(where: { $0 % groups != 0 }) {
            return "groups \(groups) does not divide channel count \(bad)"
        }
        if let bad = (channels + [contextWidth]).first(where: { $0 % heads != 0 }) {
            return "heads \(heads) does not divide width \(bad)"
        }
        if latentSize % (1 << (channels.count - 1)) != 0 {
            return "latent size \(latentSize) is not divisible by 2^\(channels.count - 1) for \(channels.count) levels"
        }
        if let bad = attentionLevels.first(where: { $0 < 0 || $0 >= channels.count }) {
            return "attention level \(bad) is outside 0..<\(channels.count)"
        }
        return nil
    }
}

/// Condition of one sample: which class token and whether the identifier
/// token `[V]` is present. The null class with no identifier is the
/// unconditional input of classifier-free guidance.
public struct Condition: Equatable, Sendable {
    public var classIndex: Int
    public var hasIdentifier: Bool

    public init(classIndex: Int, hasIdentifier: Bool = true) {
        self.classIndex = classIndex
        self.hasIdentifier = hasIdentifier
    }

    /// The unconditional input for a model with `configuration`.
    public static func unconditional(_ configuration: DenoiserConfiguration) -> Condition {
        Condition(classIndex: configuration.nullClass, hasIdentifier: false)
    }
}
