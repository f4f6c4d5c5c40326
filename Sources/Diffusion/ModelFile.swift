import Foundation
import TensorCore

/// Saving and loading models as safetensors files whose metadata carries the
/// configuration, so a file rebuilds its own architecture.
///
/// Metadata keys: `format` (`hyperfield.<kind>`), `config` (the configuration
/// as JSON), `engine_version`, plus whatever the caller adds (training step,
/// data manifest hash).
public enum ModelFile {
    public static let engineVersion = "0.1.0"

    /// Errors with the file and the fix in their description.
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// Writes the parameters of `module` and `configuration` to `url`.
    public static func save<Configuration: Encodable>(
        _ module: Module, configuration: Configuration, kind: String, metadata: [String: String] = [:], to url: URL
    ) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var fields = metadata
        fields["format"] = "hyperfield.\(kind)"
        fields["config"] = String(decoding: try encoder.encode(configuration), as: UTF8.self)
        fields["engine_version"] = engineVersion
        try SafeTensors.write(module.namedParameters().map { ($0.name, $0.tensor) }, metadata: fields, to: url)
    }

    /// Reads a file written by `save` for `kind`: the configuration and the
    /// tensors by name, plus the metadata.
    public static func read<Configuration: Decodable>(
        _ type: Configuration.Type, kind: String, from url: URL
    ) throws -> (configuration: Configuration, tensors: [String: Tensor], metadata: [String: String]) {
        let file = try SafeTensors.read(contentsOf: url)
        let metadata = file.metadata
        guard metadata["format"] == "hyperfield.\(kind)" else {
            throw LoadError(description:
                "\(url.path): expected a HyperField \(kind) file, but its format is \(metadata["format"].map { "'\($0)'" } ?? "not set"); pass a file written by the matching train command")
        }
        guard let json = metadata["config"], let configuration = try? JSONDecoder().decode(type, from: Data(json.utf8)) else {
            throw LoadError(description: "\(url.path): the '\(kind)' configuration in the metadata is missing or invalid")
        }
        return (configuration, file.tensorsByName, metadata)
    }

    /// Loads a denoiser with its configuration from `url`.
    public static func loadDenoiser(from url: URL) throws -> (model: Denoiser, metadata: [String: String]) {
        let (configuration, tensors, metadata) = try read(DenoiserConfiguration.self, kind: "denoiser", from: url)
        if let problem = configuration.validationError() {
            throw LoadError(description: "\(url.path): invalid denoiser configuration: \(problem)")
        }
        let model = Denoiser(configuration)
        try model.load(tensors)
        return (model, metadata)
    }

    /// Loads an autoencoder and its latent normalization from `url`.
    public static func loadAutoencoder(
        from url: URL
    ) throws -> (model: Autoencoder, normalization: LatentNormalization?, metadata: [String: String]) {
        let (configuration, tensors, metadata) = try read(AutoencoderConfiguration.self, kind: "autoencoder", from: url)
        if let problem = configuration.validationError() {
            throw LoadError(description: "\(url.path): invalid autoencoder configuration: \(problem)")
        }
        let model = Autoencoder(configuration)
        try model.load(tensors)
        let normalization = metadata["latent_normalization"].flatMap {
            try? JSONDecoder().decode(LatentNormalization.self, from: Data($0.utf8))
        }
        return (model, normalization, metadata)
    }
}
