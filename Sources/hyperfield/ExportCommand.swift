import CommandLineKit
import Diffusion
import Foundation
import Personalization
import TensorCore

/// `hyperfield export`: writes an adapter in the native, PEFT, kohya or
/// merged format, after choosing slots, rank, scale and convergence state.
struct ExportCommand: Command {
    let name = "export"
    let summary = "write an adapter in the LoRA ecosystem's formats, with chosen slots, rank, scale and convergence state"
    let description = """
        Formats: native (HyperField's adapter file), peft (a folder with \
        adapter_model.safetensors and adapter_config.json, as PEFT and \
        diffusers load it), kohya (one file with lora_unet_ keys, as kohya \
        sd-scripts and most Stable Diffusion interfaces load it) and merged \
        (the base denoiser with the adapter fused into its weights, loadable \
        as a base model).

        The steps run in this order: keep the slots that --slots matches, \
        multiply each slot's update by --scale, truncate to --rank by SVD. \
        No file is written when any value is NaN or infinite.

        An adapter file stores one convergence state. With --field and \
        --images instead of an adapter file, the source is the hypernetwork \
        field applied to the subject, and --step and --trajectory take any \
        state of its trajectory.

          hyperfield export subject.safetensors --format kohya --output subject-kohya.safetensors
          hyperfield export subject.safetensors --format peft --output subject-peft --slots 'mid.*' --rank 2
          hyperfield export subject.safetensors --format merged --base models/denoiser.safetensors --output merged.safetensors --scale 0.7
          hyperfield export --field models/field.safetensors --images photos/rex --class dog --step 0.5 --format peft --output rex-half
        """

    let input = Option.path("adapter", help: "HyperField adapter file to export (or give --field and --images)").positional().optional()
    let field = Option.path("field", help: "hypernetwork field to export from, with --images: any convergence state is available").optional()
    let images = Option.path("images", help: "folder of photographs of the subject, with --field").optional()
    let subjectClass = Option.choice("class", choices: ["face", "cat", "dog"], default: "face", help: "class of the subject, with --field")
    let autoencoder = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "autoencoder that encodes --images, with --field")
    let output = Option.path("output", help: "file to write; a folder for --format peft and for --trajectory")
    let format = Option<AdapterFormat>.choice("format", default: .native, help: "format to write; peft writes a folder, merged needs --base")
    let base = Option.path("base", help: "base denoiser file; required for --format merged, and otherwise used to check that every slot fits it").optional()
    let slots = Option.list("slots", of: String.self, default: ["*"], unit: "glob patterns", help: "slots to keep, by name: * matches any run of characters, dots included, and ? one character")
    let rank = Option.integer("rank", unit: "rank", minimum: 1, help: "truncate every slot to this rank by SVD and print each slot's relative Frobenius error; slots of this rank or lower are kept as they are (default: keep every slot's rank)").optional()
    let scale = Option.float("scale", default: 1, unit: "factor", help: "factor on every slot's update (alpha / r)·B·A; 0 gives an adapter that changes nothing, and a negative factor reverses it")
    let step = Option.string("step", unit: "fraction of S, or steps", help: "convergence state to export: a fraction of S with a decimal point (0.5) or a whole step from 0 to S (250); default: the final state S, or the one state of a single-state file").optional()
    let trajectory = Option.flag("trajectory", help: "write every --every-th state of the trajectory, one file (or PEFT folder) per step named step-NNNN, into the --output folder")
    let every = Option.integer("every", default: 1, unit: "steps", minimum: 1, help: "steps between the states that --trajectory writes; the final state S is always written")
    let dtype = Option<TensorElementType>.choice("dtype", default: .f32, help: "element type of the written tensors; f16 and bf16 round every value, alpha included (merged files are always f32)")
    let json = Option.json

    var options: [any CommandOption] {
        [input, field, images, subjectClass, autoencoder, output, format, base, slots, rank, scale, step, trajectory, every, dtype, json]
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        let format = arguments[self.format]
        let outputURL = URL(fileURLWithPath: arguments[output])
        let request = try arguments[step].map { text -> ConvergenceRequest in
            guard let request = ConvergenceRequest(text) else {
                throw UsageError("invalid value '\(text)' for --step: expected a fraction of S with a decimal point (0.5) or a whole step (250)")
            }
            return request
        }
        try checkCombinations(arguments, format: format, request: request, outputURL: outputURL)

        var settings = AdapterExportSettings()
        settings.slotPatterns = arguments[slots]
        settings.rank = arguments[rank]
        settings.scale = arguments[scale]
        settings.dtype = arguments[dtype].safeTensorsDType

        // Source and base model.
        let baseModel = try arguments[base].map { try BaseModel.load($0) }
        let source: AdapterSource
        switch (arguments[input], arguments[field], arguments[images]) {
        case (let inputPath?, nil, nil):
            var adapter = try AdapterFile.read(contentsOf: URL(fileURLWithPath: inputPath))
            baseModel?.stamp(&adapter, adapterLabel: inputPath, logger: logger)
            source = StoredAdapterSource(adapter: adapter, label: inputPath)
        case (nil, let fieldPath?, let imagesPath?):
            let (autoencoderModel, normalization, _) = try BaseModels.loadAutoencoder(arguments[autoencoder])
            let (fieldModel, _) = try ModelFile.loadField(from: URL(fileURLWithPath: fieldPath))
            let folder = try SubjectFolder.load(
                imagesPath, classIndex: TrainingData.classIndex(named: arguments[subjectClass])!,
                autoencoder: autoencoderModel, normalization: normalization, logger: logger)
            var metadata = [
                AdapterMetadataKey.subjectImageCount: String(folder.images.count),
                AdapterMetadataKey.subjectImageSHA256: folder.fileHashes.joined(separator: ","),
            ]
            if let baseModel { metadata[AdapterMetadataKey.baseModelSHA256] = baseModel.sha256 }
            let features = GradMode.withoutGradients { fieldModel.subjectFeatures(folder.latents.latents) }
            source = FieldAdapterSource(field: fieldModel, features: features, metadata: metadata)
        default:
            throw UsageError("give either an adapter file, or --field with --images, as the source to export")
        }

        if arguments[trajectory] {
            let files = try AdapterExport.writeTrajectory(
                from: source, every: arguments[every], settings: settings, format: format, folder: outputURL,
                base: baseModel?.mergeBase)
            if arguments[json] {
                try JSONOutput.write(TrajectoryReport(format: format, files: files))
            } else {
                for file in files { print("wrote \(file.path) (s = \(file.step))") }
            }
            return
        }

        let selected = try AdapterExport.adapter(from: source, at: request)
        let prepared = try AdapterExport.prepare(selected, settings: settings)
        let files = try AdapterExport.write(
            prepared.adapter, format: format, to: outputURL, dtype: settings.dtype, base: baseModel?.mergeBase)
        let report = ExportReport(
            format: format, output: outputURL.path, files: files.map(\.path), slots: prepared.slots,
            convergenceState: prepared.adapter.convergenceState, convergenceSteps: prepared.adapter.convergenceSteps)
        if arguments[json] {
            try JSONOutput.write(report)
        } else {
            printReport(report, truncated: settings.rank != nil)
        }
    }

    /// Rejects option combinations that cannot work, before any file is read.
    private func checkCombinations(
        _ arguments: ParsedArguments, format: AdapterFormat, request: ConvergenceRequest?, outputURL: URL
    ) throws {
        if arguments[trajectory] && request != nil {
            throw UsageError("--step and --trajectory exclude each other: --step writes one state, --trajectory all of them")
        }
        if arguments.isGiven(every) && !arguments[trajectory] {
            throw UsageError("--every applies only with --trajectory")
        }
        if format == .merged && arguments[base] == nil {
            throw UsageError("--format merged needs --base, the denoiser to fuse the adapter into")
        }
        if format == .merged && arguments[dtype] != .f32 {
            throw UsageError("--format merged writes a denoiser in f32, as every denoiser file is; leave out --dtype")
        }
        if format == .peft && !arguments[trajectory] && outputURL.pathExtension == "safetensors" {
            throw UsageError("--format peft writes a folder with \(PEFTFormat.weightsFileName) and \(PEFTFormat.configurationFileName), so give --output a folder name such as \(outputURL.deletingPathExtension().lastPathComponent)")
        }
    }

    private func printReport(_ report: ExportReport, truncated: Bool) {
        if truncated {
            let width = report.slots.map(\.slot.count).max() ?? 0
            for slot in report.slots {
                let name = slot.slot.padding(toLength: width, withPad: " ", startingAt: 0)
                print("\(name)  rank \(slot.sourceRank) → \(slot.rank)  relative Frobenius error \(String(format: "%.6f", slot.relativeError))")
            }
        }
        let state = report.convergenceState.map { s in
            " at s = \(s)" + (report.convergenceSteps.map { " of S = \($0)" } ?? "")
        } ?? ""
        // A PEFT export is a folder of two files, named after the folder.
        let contents = report.files.count > 1
            ? ": " + report.files.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: ", ")
            : ""
        print("wrote \(report.output) (\(report.format.rawValue), \(report.slots.count) slots\(state))\(contents)")
    }
}

/// The `--json` output of a single export.
struct ExportReport: Encodable {
    let format: AdapterFormat
    /// The file or PEFT folder that `--output` named.
    let output: String
    let files: [String]
    let slots: [SlotExportReport]
    let convergenceState: Int?
    let convergenceSteps: Int?

    enum CodingKeys: String, CodingKey {
        case format, output, files, slots
        case convergenceState = "convergence_state"
        case convergenceSteps = "convergence_steps"
    }
}

/// The `--json` output of a trajectory export.
struct TrajectoryReport: Encodable {
    let format: AdapterFormat
    let files: [TrajectoryFile]
}
