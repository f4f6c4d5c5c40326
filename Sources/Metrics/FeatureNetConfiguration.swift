/// The training objective of a feature net, which fixes its head and the
/// role it plays in the metrics.
public enum FeatureObjective: String, Codable, Sendable, CaseIterable {
    /// CLIP-I-style: InfoNCE between two views of one image, or two images of
    /// one identity where identity labels exist.
    case contrastive
    /// DINO-style: self-distillation from an EMA teacher with centring,
    /// sharpening and multi-crop views, without labels.
    case selfDistillation = "self-distillation"

    /// Name of the score the net produces: "CLIP-I" or "DINO".
    public var scoreName: String {
        switch self {
        case .contrastive: return "CLIP-I"
        case .selfDistillation: return "DINO"
        }
    }
}

/// The activation of a feature net that scores compare.
public enum EmbeddingSource: String, Codable, Sendable, CaseIterable {
    /// The pooled output of the last stage, `[B, C_last]`.
    case backbone
    /// The projection head's output, `[B, embeddingSize]`.
    case head
    /// The last feature map, flattened, centred and whitened by a principal
    /// component analysis of unlabeled training images, `[B, whitening.width]`.
    /// Aligned faces and dog faces differ from one identity to the next less
    /// than they share, and whitening lets the rarer directions that tell
    /// identities apart count as much as the common ones.
    case whitened
}

/// Settings of the `whitened` embedding's fit: the number of principal
/// components kept and how much the smaller ones are damped.
public struct FeatureWhiteningConfiguration: Codable, Equatable, Sendable {
    /// Principal components kept, the width of the embedding. Default 512.
    public var width = 512
    /// Added to every eigenvalue before its inverse square root scales its
    /// component, as a fraction of the largest eigenvalue. Keeps components
    /// of near-zero variance from dominating. Default 0.001.
    public var regularization: Float = 1e-3

    public init(width: Int = 512, regularization: Float = 1e-3) {
        self.width = width
        self.regularization = regularization
    }
}

/// The pooling that turns a feature net's last feature map into one vector.
public enum FeaturePooling: String, Codable, Sendable, CaseIterable {
    /// Global average pooling. Works on any input size, as the multi-crop
    /// views of self-distillation need.
    case average
    /// A learned weight per channel and position of the last map, summed over
    /// positions: the global depthwise convolution of MobileFaceNets. Faces
    /// and dog faces are aligned, so where a feature appears carries identity,
    /// which average pooling discards. Needs the input size of the
    /// configuration.
    case spatial
}

/// Size and role of a feature net. Stored as JSON in the weight file, so a
/// file rebuilds its own architecture.
public struct FeatureNetConfiguration: Codable, Equatable, Sendable {
    public var objective: FeatureObjective = .contrastive
    /// Side of the square RGB input in pixels, images in [-1, 1]. With average
    /// pooling other sides run too (DINO's local crops do), but scores use
    /// this one. Default 64, the side of generated samples.
    public var imageSize = 64
    /// Output channels of each stage. Every stage halves the resolution with
    /// a stride-2 convolution. Default 32, 64, 128, 256.
    public var stageChannels = [32, 64, 128, 256]
    /// Residual 3x3 convolutions after each stage's downsampling. Default 1.
    public var blocksPerStage = 1
    /// Pooling of the last feature map into the backbone features. Default
    /// `.spatial` for the contrastive net, `.average` for self-distillation.
    public var pooling: FeaturePooling = .spatial
    /// Groups of every group norm, which must divide every stage's channels.
    /// Default 8.
    public var normGroups = 8
    /// Width of the projection head's hidden layer. Default 512.
    public var headHiddenSize = 512
    /// Width of the projection head's output. Default 128.
    public var embeddingSize = 128
    /// Prototypes of the DINO head, the width of the distributions that the
    /// student matches to the teacher. It is 0 for the contrastive objective
    /// and 1024 by default for self-distillation.
    public var prototypeCount = 0
    /// Activation the scores compare. Default `.head` for the contrastive
    /// net (the space InfoNCE shapes, as CLIP's image embedding is its
    /// projection) and `.backbone` for the self-distilled one (the pooled
    /// features that DINO evaluates with).
    public var embeddingSource: EmbeddingSource = .head
    /// The whitening that the `whitened` embedding applies, fitted after
    /// training; nil for a net without one. Default nil for the contrastive
    /// net, 512 components for self-distillation.
    public var whitening: FeatureWhiteningConfiguration? = nil

    public init() {}

    /// Returns the default configuration for `objective`.
    public static func standard(_ objective: FeatureObjective) -> FeatureNetConfiguration {
        var configuration = FeatureNetConfiguration()
        configuration.objective = objective
        switch objective {
        case .contrastive:
            configuration.prototypeCount = 0
            configuration.embeddingSource = .head
            configuration.pooling = .spatial
        case .selfDistillation:
            configuration.prototypeCount = 1024
            configuration.embeddingSource = .whitened
            configuration.whitening = FeatureWhiteningConfiguration()
            configuration.pooling = .average
        }
        return configuration
    }

    /// Side of the last feature map for an input of `imageSize`: each
    /// stride-2 stage maps a side n to ceil(n / 2).
    public var finalMapSize: Int {
        stageChannels.reduce(imageSize) { side, _ in (side + 1) / 2 }
    }

    /// Values in the last feature map of an `imageSize` input, the width of
    /// what the whitening reads.
    public var finalMapValues: Int {
        (stageChannels.last ?? 0) * finalMapSize * finalMapSize
    }

    /// Width of the embedding that scores compare.
    public var embeddingWidth: Int {
        switch embeddingSource {
        case .backbone: return stageChannels.last ?? 0
        case .head: return embeddingSize
        case .whitened: return whitening?.width ?? 0
        }
    }

    /// Returns a description of the first invalid field, or nil when the
    /// configuration can be built.
    public func validationError() -> String? {
        if imageSize < 8 { return "imageSize \(imageSize) must be at least 8" }
        if stageChannels.isEmpty { return "stageChannels must list at least one stage" }
        if imageSize >> stageChannels.count < 1 {
            return "imageSize \(imageSize) is too small for \(stageChannels.count) stride-2 stages"
        }
        if blocksPerStage < 0 { return "blocksPerStage \(blocksPerStage) must not be negative" }
        if normGroups < 1 { return "normGroups \(normGroups) must be at least 1" }
        if let channels = stageChannels.first(where: { $0 < 1 || $0 % normGroups != 0 }) {
            return "stage width \(channels) is not a positive multiple of normGroups \(normGroups)"
        }
        if headHiddenSize < 1 || embeddingSize < 1 {
            return "headHiddenSize \(headHiddenSize) and embeddingSize \(embeddingSize) must be positive"
        }
        if let whitening {
            if whitening.width < 1 || whitening.width > finalMapValues {
                return "whitening width \(whitening.width) must be between 1 and the \(finalMapValues) values of the last feature map"
            }
            if !(whitening.regularization >= 0) || !whitening.regularization.isFinite {
                return "whitening regularization \(whitening.regularization) must be a finite number of at least 0"
            }
        } else if embeddingSource == .whitened {
            return "the whitened embedding needs a whitening configuration"
        }
        if pooling == .spatial && objective == .selfDistillation {
            return "spatial pooling needs one input size, but self-distillation uses smaller local views; use average pooling"
        }
        switch objective {
        case .contrastive where prototypeCount != 0:
            return "prototypeCount must be 0 for the contrastive objective, got \(prototypeCount)"
        case .selfDistillation where prototypeCount < 2:
            return "prototypeCount \(prototypeCount) must be at least 2 for self-distillation"
        default:
            return nil
        }
    }
}

