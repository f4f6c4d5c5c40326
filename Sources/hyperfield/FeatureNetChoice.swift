import CommandLineKit
import Diffusion
import Foundation
import Metrics

/// The two shipped feature nets, as `--net` names them.
enum FeatureNetChoice: String, CaseIterable, Sendable {
    case clipI = "clip-i"
    case dino

    var objective: FeatureObjective {
        switch self {
        case .clipI: return .contrastive
        case .dino: return .selfDistillation
        }
    }

    /// Default weight file, relative to the repository.
    var defaultModelPath: String { "models/\(rawValue).safetensors" }

    /// Images (DINO) or image pairs (CLIP-I) per step when `--batch-size`
    /// is not given.
    var defaultBatchSize: Int {
        switch self {
        case .clipI: return 64
        case .dino: return 32
        }
    }

    /// Peak learning rate when `--learning-rate` is not given.
    var defaultLearningRate: Double {
        switch self {
        case .clipI: return 2e-3
        case .dino: return 1e-3
        }
    }

    /// AdamW weight decay: DINO's 0.04 keeps the prototype logits bounded,
    /// the contrastive net needs little.
    var weightDecay: Float {
        switch self {
        case .clipI: return 1e-4
        case .dino: return 0.04
        }
    }
}

/// `kind` of feature net weight files, stored as `format` =
/// `hyperfield.feature-net` in their metadata.
let featureNetModelKind = "feature-net"

/// Returns the model card's path for a weight file: the same path with the
/// extension `.md` in place of `.safetensors`.
func modelCardPath(forModel modelPath: String) -> String {
    let base = modelPath.hasSuffix(".safetensors") ? String(modelPath.dropLast(".safetensors".count)) : modelPath
    return base + ".md"
}

/// Loads a feature net written by `train-features`. A non-nil
/// `embeddingSource` replaces the one stored in the file, to compare the
/// backbone and head embeddings of one net.
func loadFeatureNet(
    from url: URL, embeddingSource: EmbeddingSource? = nil
) throws -> (net: FeatureNet, metadata: [String: String]) {
    guard FileManager.default.fileExists(atPath: url.path) else {
        throw RuntimeError("\(url.path): feature net file not found. The default paths under models/ are relative, so run from the repository folder or pass --clip-i and --dino. `hyperfield train-features` trains new nets")
    }
    var (configuration, tensors, metadata) = try ModelFile.read(FeatureNetConfiguration.self, kind: featureNetModelKind, from: url)
    if let embeddingSource { configuration.embeddingSource = embeddingSource }
    if let problem = configuration.validationError() {
        throw RuntimeError("\(url.path): invalid feature net configuration: \(problem)")
    }
    let net = FeatureNet(configuration)
    try net.load(tensors)
    return (net, metadata)
}
