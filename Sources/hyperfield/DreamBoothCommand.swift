import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// `hyperfield dreambooth`: the per-subject optimization baseline.
struct DreamBoothCommand: Command {
    let name = "dreambooth"
    let summary = "train a subject's adapter by per-subject optimization (the DreamBooth-LoRA baseline)"
    let description = """
        Optimizes the adapter of the same slots as the field, from the same \
        initial adapter θ_0, on the subject's denoising loss ("a [V] <class>"), \
        for S steps: Adam by default, or plain SGD at the field's rate η with \
        --method sgd, whose path is the trajectory the field learns. This is \
        the slow method the field replaces; the command prints its time.

          hyperfield dreambooth --images photos/rex --class dog --output rex-dreambooth.safetensors
        """

    let subject = SubjectOptions()
    let method = Option.choice("method", choices: ["adam", "sgd"], default: "adam", help: "optimizer: adam, or sgd at the field's rate η")
    let steps = Option.integer("steps", default: 0, unit: "steps", minimum: 0, help: "optimizer steps; 0 uses the field's S")
    let learningRate = Option.double("learning-rate", default: 0, unit: "per step", minimum: 0, help: "learning rate; 0 uses 1e-3 for adam and the field's η for sgd")
    let draws = Option.integer("draws", default: 16, unit: "draws", minimum: 1, help: "loss draws (image, timestep, noise) per step")
    let seed = Option.integer("seed", default: 0, unit: "seed", minimum: 0, help: "seed of the draws")
    let output = Option.path("output", default: "out/dreambooth/adapter.safetensors", help: "where the adapter is written")
    let snapshotEvery = Option.integer("snapshot-every", default: 0, unit: "steps", minimum: 0, help: "also write the adapter every this many steps, as <output>-step-N.safetensors; 0 writes only the last")
    var options: [any CommandOption] { subject.all + [method, steps, learningRate, draws, seed, output, snapshotEvery] }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        let base = try BaseModels.load(autoencoder: arguments[subject.autoencoder], denoiser: arguments[subject.denoiser])
        base.denoiser.setTrainable(false)
        // θ_0, S and η come from the field so that both methods share them.
        let field = try fieldOrDefaults(
            path: arguments[subject.field], given: arguments.isGiven(subject.field), denoiser: base.denoiser, logger: logger)
        let configuration = field.configuration
        let classIndex = TrainingData.classIndex(named: arguments[subject.subjectClass])!
        let folder = try SubjectFolder.load(
            arguments[subject.images], classIndex: classIndex, autoencoder: base.autoencoder,
            normalization: base.normalization, logger: logger)

        let total = arguments[steps] > 0 ? arguments[steps] : configuration.totalSteps
        let every = arguments[snapshotEvery]
        var snapshots: Set<Int> = [total]
        if every > 0 { snapshots.formUnion(stride(from: every, to: total, by: every)) }
        let rate = arguments[learningRate]
        let chosen: PerSubjectTraining.Method = arguments[method] == "sgd"
            ? .sgd(learningRate: rate > 0 ? Float(rate) : configuration.learningRate)
            : .adam(learningRate: rate > 0 ? Float(rate) : 1e-3)
        let training = PerSubjectTraining(method: chosen, steps: total, drawsPerStep: arguments[draws], timestepRange: 0..<base.schedule.timesteps)
        var rng = SeededGenerator(seed: UInt64(arguments[seed]))
        let progress = ProgressReporter(label: "dreambooth", total: total, unit: "steps")
        let start = Date()
        let path = training.run(
            denoiser: base.denoiser, schedule: base.schedule, subject: folder.latents, initial: field.initialAdapter,
            snapshots: snapshots, rng: &rng) { step, loss in
            progress.update(completed: step, fields: [ProgressField("loss", String(format: "%.4f", loss))])
        }
        progress.finish()
        let seconds = Date().timeIntervalSince(start)

        let baseHash = try fileSHA256(URL(fileURLWithPath: arguments[subject.denoiser]))
        let url = URL(fileURLWithPath: arguments[output])
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        for step in snapshots.sorted() {
            var adapter = path[step]!
            adapter.metadata[AdapterMetadataKey.baseModelSHA256] = baseHash
            adapter.metadata[AdapterMetadataKey.convergenceState] = String(step)
            adapter.metadata[AdapterMetadataKey.convergenceSteps] = String(total)
            adapter.metadata[AdapterMetadataKey.subjectImageCount] = String(folder.images.count)
            adapter.metadata[AdapterMetadataKey.subjectImageSHA256] = folder.fileHashes.joined(separator: ",")
            let stepURL = step == total ? url : Self.snapshotURL(url, step: step)
            try AdapterFile.write(adapter, to: stepURL)
            if step != total { logger.info("wrote the adapter after \(step) steps to \(stepURL.path)") }
        }
        print(String(format: "trained %@ for %d steps (%@) in %.1f s: wrote %@", folder.folder.lastPathComponent, total, arguments[method], seconds, url.path))
    }

    /// `adapter.safetensors` → `adapter-step-100.safetensors`.
    static func snapshotURL(_ url: URL, step: Int) -> URL {
        let stem = url.deletingPathExtension().lastPathComponent
        let suffix = url.pathExtension.isEmpty ? "" : "." + url.pathExtension
        return url.deletingLastPathComponent().appendingPathComponent("\(stem)-step-\(step)\(suffix)")
    }
}
