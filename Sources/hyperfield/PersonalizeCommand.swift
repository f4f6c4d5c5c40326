import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// Options shared by the commands that personalize from a subject folder.
struct SubjectOptions: Sendable {
    let images = Option.path("images", help: "folder of photographs of one subject (PNG or JPEG; other files are skipped)")
    let subjectClass = Option.choice("class", choices: ["face", "cat", "dog"], default: "face", help: "class of the subject")
    let field = Option.path("field", default: "models/field.safetensors", help: "trained hypernetwork field")
    let denoiser = Option.path("denoiser", default: "models/denoiser.safetensors", help: "trained base denoiser")
    let autoencoder = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "trained autoencoder")

    var all: [any CommandOption] { [images, subjectClass, field, denoiser, autoencoder] }
}

/// The field applied to one subject, as a source of adapters at any state.
struct FieldAdapterSource: AdapterSource {
    let field: HypernetworkField
    let features: Tensor
    let metadata: [String: String]

    var totalSteps: Int { field.configuration.totalSteps }
    var label: String { "the field" }

    func adapter(atStep step: Int) -> Adapter {
        var adapter = GradMode.withoutGradients { field.adapter(features: features, state: Double(step)) }.detached()
        for (key, value) in metadata { adapter.metadata[key] = value }
        adapter.metadata[AdapterMetadataKey.convergenceState] = String(step)
        adapter.metadata[AdapterMetadataKey.convergenceSteps] = String(totalSteps)
        return adapter
    }
}

/// `hyperfield personalize`: one forward pass of the field gives a
/// subject's adapter.
struct PersonalizeCommand: Command {
    let name = "personalize"
    let summary = "write a subject's adapter from its photographs in one pass of the field"
    let description = """
        Encodes the subject's photographs with the autoencoder and runs the \
        hypernetwork field once to get the adapter at convergence state S (the \
        end of the trajectory), or at --step. Writes the adapter in HyperField's \
        format with its metadata (base model hash, rank, alpha, convergence \
        state, the subject's image count and hashes) and prints the time taken.

          hyperfield personalize --images photos/rex --class dog --output rex.safetensors
        """

    let subject = SubjectOptions()
    let step = Option.string("step", default: "1.0", unit: "fraction of S or steps", help: "convergence state: a fraction of S with a decimal point (0.5, or 1.0 for S itself) or a whole step from 0 to S (200; 1 means step 1)")
    let output = Option.path("output", default: "out/personalize/adapter.safetensors", help: "where the adapter is written")
    let json = Option.json
    var options: [any CommandOption] { subject.all + [step, output, json] }

    struct Report: Encodable {
        let adapter: String
        let imageCount: Int
        let convergenceState: Int
        let totalSteps: Int
        let personalizeSeconds: Double
        enum CodingKeys: String, CodingKey {
            case adapter
            case imageCount = "image_count"
            case convergenceState = "convergence_state"
            case totalSteps = "total_steps"
            case personalizeSeconds = "personalize_seconds"
        }
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        guard let request = ConvergenceRequest(arguments[step]) else {
            throw UsageError("--step expects a fraction of S such as 0.5 or a whole number of steps such as 200, got '\(arguments[step])'")
        }
        let imagesPath = arguments[subject.images]
        let (autoencoder, normalization, _) = try BaseModels.loadAutoencoder(arguments[subject.autoencoder])
        let fieldURL = URL(fileURLWithPath: arguments[subject.field])
        guard FileManager.default.fileExists(atPath: fieldURL.path) else {
            throw RuntimeError("field \(fieldURL.path) not found; pass --field FILE or train one with 'hyperfield train-field'")
        }
        let (field, fieldMetadata) = try ModelFile.loadField(from: fieldURL)
        let denoiserHash = try fileSHA256(URL(fileURLWithPath: arguments[subject.denoiser]))
        try warnIfTrainedAgainstOtherDenoiser(
            fieldMetadata: fieldMetadata, fieldPath: fieldURL.path, denoiserPath: arguments[subject.denoiser],
            denoiserHash: denoiserHash, logger: logger)
        let classIndex = TrainingData.classIndex(named: arguments[subject.subjectClass])!

        // Timed: decode, encode and one field pass.
        let start = Date()
        let folder = try SubjectFolder.load(
            imagesPath, classIndex: classIndex, autoencoder: autoencoder, normalization: normalization, logger: logger)
        let features = GradMode.withoutGradients { field.subjectFeatures(folder.latents.latents) }
        let source = FieldAdapterSource(field: field, features: features, metadata: [
            AdapterMetadataKey.baseModelSHA256: denoiserHash,
            AdapterMetadataKey.subjectImageCount: String(folder.images.count),
            AdapterMetadataKey.subjectImageSHA256: folder.fileHashes.joined(separator: ","),
        ])
        let state = try request.resolvedStep(totalSteps: field.configuration.totalSteps)
        let adapter = source.adapter(atStep: state)
        let seconds = Date().timeIntervalSince(start)

        let url = URL(fileURLWithPath: arguments[output])
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try AdapterFile.write(adapter, to: url)
        let report = Report(
            adapter: url.path, imageCount: folder.images.count, convergenceState: state,
            totalSteps: field.configuration.totalSteps, personalizeSeconds: seconds)
        if arguments[json] {
            try JSONOutput.write(report)
        } else {
            let images = folder.images.count == 1 ? "1 image" : "\(folder.images.count) images"
            print(String(format: "personalized %@ from %@ in %.3f s: wrote %@ (state %d of %d)",
                         folder.folder.lastPathComponent, images, seconds, url.path, state, field.configuration.totalSteps))
        }
    }
}
