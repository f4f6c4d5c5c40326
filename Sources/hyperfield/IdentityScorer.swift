import CommandLineKit
import Foundation
import ImageIO
import Metrics
import TensorCore

/// The CLIP-I-style and DINO-style feature nets, loaded once, scoring
/// generated images against a subject's real images.
struct IdentityScorer {
    struct Scores: Codable, Equatable {
        /// Mean cosine over every (generated, reference) pair, CLIP-I-style.
        var clipI: Double
        /// The same with the DINO-style net.
        var dino: Double
    }

    let clipI: FeatureNet
    let dino: FeatureNet

    init(clipIPath: String, dinoPath: String) throws {
        clipI = try loadFeatureNet(from: URL(fileURLWithPath: clipIPath)).net
        dino = try loadFeatureNet(from: URL(fileURLWithPath: dinoPath)).net
    }

    /// Embeddings of `images` by both nets, to compare many sets against one.
    func embeddings(_ images: [RGBImage]) -> (clipI: Tensor, dino: Tensor) {
        (clipI.embeddings(of: images), dino.embeddings(of: images))
    }

    func scores(generated: [RGBImage], reference: (clipI: Tensor, dino: Tensor)) -> Scores {
        let mine = embeddings(generated)
        return Scores(
            clipI: PairwiseSimilarity(generated: mine.clipI, reference: reference.clipI).mean,
            dino: PairwiseSimilarity(generated: mine.dino, reference: reference.dino).mean)
    }
}
