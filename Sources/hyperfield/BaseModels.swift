import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// The shipped base models, loaded together: the autoencoder with its latent
/// normalization, and the denoiser with its noise schedule.
struct BaseModels {
    let autoencoder: Autoencoder
    let normalization: LatentNormalization
    let autoencoderMetadata: [String: String]
    let denoiser: Denoiser
    let denoiserMetadata: [String: String]
    let schedule: NoiseSchedule

    /// Loads an autoencoder file. A checkpoint has no latent statistics yet;
    /// with `requireNormalization` false it loads with identity statistics.
    static func loadAutoencoder(
        _ path: String, requireNormalization: Bool = true
    ) throws -> (Autoencoder, LatentNormalization, [String: String]) {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RuntimeError("autoencoder \(url.path) not found; pass --autoencoder FILE or train one with 'hyperfield train-autoencoder'")
        }
        let (model, normalization, metadata) = try ModelFile.loadAutoencoder(from: url)
        guard let normalization else {
            if !requireNormalization {
                let channels = model.configuration.latentChannels
                return (model, LatentNormalization(
                    mean: [Float](repeating: 0, count: channels),
                    standardDeviation: [Float](repeating: 1, count: channels)), metadata)
            }
            throw RuntimeError("\(url.path) has no latent_normalization in its metadata; it is a checkpoint, not a finished model; finish training with 'hyperfield train-autoencoder --resume'")
        }
        return (model, normalization, metadata)
    }

    static func load(autoencoder autoencoderPath: String, denoiser denoiserPath: String) throws -> BaseModels {
        let (autoencoder, normalization, autoencoderMetadata) = try loadAutoencoder(autoencoderPath)
        let url = URL(fileURLWithPath: denoiserPath)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw RuntimeError("denoiser \(url.path) not found; pass --denoiser FILE or train one with 'hyperfield train-denoiser'")
        }
        let (denoiser, denoiserMetadata) = try ModelFile.loadDenoiser(from: url)
        let schedule = NoiseSchedule(
            kind: NoiseSchedule.Kind(rawValue: denoiserMetadata["noise_schedule"] ?? "linear") ?? .linear,
            timesteps: Int(denoiserMetadata["training_timesteps"] ?? "1000") ?? 1000)
        return BaseModels(
            autoencoder: autoencoder, normalization: normalization, autoencoderMetadata: autoencoderMetadata,
            denoiser: denoiser, denoiserMetadata: denoiserMetadata, schedule: schedule)
    }

    /// Images of normalized latents, as 8-bit pictures.
    static func decode(_ latents: Tensor, autoencoder: Autoencoder, normalization: LatentNormalization) throws -> [RGBImage] {
        let images = GradMode.withoutGradients { autoencoder.decode(normalization.denormalize(latents)) }
        let perImage = images.count / images.shape[0]
        return try (0..<images.shape[0]).map { index in
            let one = Tensor(
                shape: Array(images.shape.dropFirst()),
                data: Array(images.data[(index * perImage)..<((index + 1) * perImage)]))
            return try RGBImage(tensor: one)
        }
    }
}

/// SHA-256 of a file's bytes, as hex.
func fileSHA256(_ url: URL) throws -> String {
    SHA256.hexDigest(of: [UInt8](try Data(contentsOf: url)))
}

/// Logs a warning when the field's metadata names another denoiser file than
/// the one at `denoiserPath`. Its adapters then fit the denoiser's slots, but
/// were learned from another denoiser's gradients.
func warnIfTrainedAgainstOtherDenoiser(
    fieldMetadata: [String: String], fieldPath: String, denoiserPath: String, denoiserHash: String? = nil, logger: Logger
) throws {
    guard let trainedAgainst = fieldMetadata["denoiser_sha256"] else { return }
    let loaded = try denoiserHash ?? fileSHA256(URL(fileURLWithPath: denoiserPath))
    guard trainedAgainst != loaded else { return }
    logger.warning(
        "\(fieldPath) was trained against a denoiser with SHA-256 \(trainedAgainst.prefix(12))…, "
            + "but \(denoiserPath) has \(loaded.prefix(12))…, so its adapters may personalize poorly; "
            + "retrain the field with `hyperfield train-field --init-weights \(fieldPath)`")
}

/// Loads the field at `path`, or, when that file is absent and `--field` was
/// not given, returns a new field whose slots, rank, θ_0, S and η are the
/// defaults. The per-subject baselines use this before any field is trained.
func fieldOrDefaults(path: String, given: Bool, denoiser: Denoiser, logger: Logger) throws -> HypernetworkField {
    let url = URL(fileURLWithPath: path)
    if FileManager.default.fileExists(atPath: url.path) || given {
        return try ModelFile.loadField(from: url).field
    }
    logger.info("no field at \(url.path): using the default slots, rank, θ_0, S and η of a new field")
    return HypernetworkField(FieldConfiguration(slots: denoiser.slots))
}
