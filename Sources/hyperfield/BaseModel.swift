import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// A base denoiser loaded for the adapter commands, with the hash that
/// adapter files record as `base_model_sha256`.
struct BaseModel {
    let model: Denoiser
    let metadata: [String: String]
    /// SHA-256 of the file's bytes, as lowercase hex.
    let sha256: String
    let path: String

    /// Loads the denoiser file at `path` and hashes its bytes.
    ///
    /// - Throws: `RuntimeError` naming the file when it does not exist, and
    ///   the errors of `ModelFile.loadDenoiser`.
    static func load(_ path: String) throws -> BaseModel {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RuntimeError("base model \(path) does not exist; pass --base with a denoiser file written by train-denoiser")
        }
        let (model, metadata) = try ModelFile.loadDenoiser(from: url)
        let bytes = try Data(contentsOf: url, options: .alwaysMapped)
        return BaseModel(model: model, metadata: metadata, sha256: SHA256.hexDigest(of: bytes), path: path)
    }

    /// Records this model's hash in `adapter` when it has none, and warns
    /// when it records another one.
    func stamp(_ adapter: inout Adapter, adapterLabel: String, logger: Logger) {
        let key = AdapterMetadataKey.baseModelSHA256
        if let recorded = adapter.metadata[key], recorded != sha256 {
            logger.warning("\(adapterLabel) was made for a base model with SHA-256 \(recorded.prefix(16))…, but \(path) has \(sha256.prefix(16))…; its slots fit, but its effect may differ")
        } else if adapter.metadata[key] == nil {
            adapter.metadata[key] = sha256
        }
    }

    var mergeBase: MergeBase { MergeBase(model: model, metadata: metadata) }
}

/// Element types that the adapter commands write, as `--dtype` names them.
enum TensorElementType: String, CaseIterable, Sendable {
    case f32
    case f16
    case bf16

    var safeTensorsDType: SafeTensorsDType {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        }
    }
}
