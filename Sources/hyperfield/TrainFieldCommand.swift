import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// `hyperfield train-field`: trains the hypernetwork field with
/// denoising-gradient supervision on the training subjects.
struct TrainFieldCommand: Command {
    let name = "train-field"
    let summary = "train the hypernetwork field from the denoiser's gradients"
    let description = """
        Trains the field H(X, s) that maps a subject's images and a convergence \
        state s in [0, S] to the adapter that s steps of gradient descent at \
        rate η would reach. Each step draws subjects (by class, then subject) \
        and a state s, and trains H(X, s+1) − H(X, s) to equal −η·g, where g is \
        the gradient of the subject's denoising loss at the field's own \
        prediction H(X, s), estimated from --draws draws with stratified \
        timesteps and antithetic noise. No per-subject weights are computed or \
        stored. The base denoiser and autoencoder stay frozen.

        Subjects are the training split of the shared photographs: every LFW \
        person and DogFaceNet dog is a multi-image subject, every cat photo a \
        single-image one. Every --diagnose-every steps the log shows the mean \
        cosine between the field's step and a low-noise gradient (many draws) \
        on fixed training subjects: that cosine, not the loss value, shows \
        whether the field is learning. Before the first one, the log gives the \
        cosine a step equal to the mean gradient would reach, since two \
        gradients from independent draws never agree exactly.

          hyperfield train-field --steps 3000 --max-minutes 60
        """

    let training = TrainingOptions(
        defaultSteps: 2500, defaultLearningRate: 1e-3, defaultRunFolder: "out/train-field", defaultBatchSize: 8,
        batchUnit: "subjects")
    let output = Option.path("output", default: "models/field.safetensors", help: "where the trained field is written")
    let autoencoderPath = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "trained autoencoder")
    let denoiserPath = Option.path("denoiser", default: "models/denoiser.safetensors", help: "trained base denoiser")
    let rank = Option.integer("rank", default: 4, unit: "rank", minimum: 1, help: "adapter rank r of every slot")
    let alpha = Option.double("alpha", default: 4, unit: "scale", minimum: 0, help: "adapter alpha; updates are scaled by alpha / r")
    let totalSteps = Option.integer("total-steps", default: 400, unit: "steps", minimum: 1, help: "S, the convergence state at the end of the trajectory")
    let eta = Option.double("eta", default: 30, unit: "per step", minimum: 0, help: "learning rate η of the gradient descent the field learns")
    let draws = Option.integer("draws", default: 16, unit: "draws", minimum: 2, help: "loss draws per subject for each gradient estimate")
    let maxInputImages = Option.integer("max-input-images", default: 4, unit: "images", minimum: 1, help: "most images of a subject given to the field in one step")
    let width = Option.integer("width", default: 128, unit: "features", minimum: 8, help: "width of the field's slot tokens")
    let layers = Option.integer("layers", default: 2, unit: "layers", minimum: 1, help: "transformer layers over the slot tokens")
    let stepTarget = Option<StepTarget>.choice(
        "step-target", default: .bothStates,
        help: "states the step loss trains: both (gradients through H(X, s) and H(X, s+1)) or next (H(X, s) a constant target, loss divided by (s+1)², so every state weighs alike)")
    let subjectLimit = Option.integer("subjects", default: 0, unit: "subjects", minimum: 0, help: "train on only this many subjects, spread evenly over those with several images, to check that the field can fit a few; 0 trains on all")
    let diagnoseEvery = Option.integer("diagnose-every", default: 250, unit: "steps", minimum: 0, help: "steps between cosine diagnostics; 0 turns them off")

    var options: [any CommandOption] {
        training.all + [output, autoencoderPath, denoiserPath, rank, alpha, totalSteps, eta, draws, maxInputImages,
                        width, layers, stepTarget, subjectLimit, diagnoseEvery]
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        training.applyThreads(arguments)
        let root = try training.dataRoot(arguments)
        let base = try BaseModels.load(autoencoder: arguments[autoencoderPath], denoiser: arguments[denoiserPath])
        base.denoiser.setTrainable(false)
        let autoencoderHash = try fileSHA256(URL(fileURLWithPath: arguments[autoencoderPath]))
        let denoiserHash = try fileSHA256(URL(fileURLWithPath: arguments[denoiserPath]))

        var (subjects, manifestHash) = try TrainingData.trainingSubjectLatents(
            root: root, base: base, autoencoderHash: autoencoderHash, modelPath: arguments[output], logger: logger)
        if arguments[subjectLimit] > 0 {
            // The diagnostics' fixed subjects are among these.
            subjects = fixedSubjects(subjects, count: arguments[subjectLimit])
            logger.info("training on \(subjects.count) subjects only (--subjects)")
        }

        var configuration = FieldConfiguration(slots: base.denoiser.slots)
        configuration.rank = arguments[rank]
        configuration.alpha = Float(arguments[alpha])
        configuration.totalSteps = arguments[totalSteps]
        configuration.learningRate = Float(arguments[eta])
        configuration.latentChannels = base.denoiser.configuration.latentChannels
        configuration.latentSize = base.denoiser.configuration.latentSize
        configuration.width = arguments[width]
        configuration.layers = arguments[layers]
        let settings = training.settings(arguments)
        configuration.initialSeed = settings.seed
        if let problem = configuration.validationError() {
            throw UsageError("invalid field configuration: \(problem)")
        }

        // γ: the gradient scale at θ_0, which sets the units of the field's
        // output. A resumed run reads it from the checkpoint's configuration.
        let diagnosticSubjects = fixedSubjects(subjects, count: 4)
        let initial = HypernetworkField(configuration, seed: settings.seed).initialAdapter
        configuration.gradientScale = try resumedGradientScale(arguments) ?? measureGradientScale(
            denoiser: base.denoiser, schedule: base.schedule, subjects: fixedSubjects(subjects, count: 16),
            initial: initial, draws: arguments[draws])
        logger.info(String(format: "gradient scale γ = %.3e per adapter element", configuration.gradientScale))

        let field = HypernetworkField(configuration, seed: settings.seed)
        logger.info("field: \(field.parameterCount) parameters, \(configuration.slots.count) slots, rank \(configuration.rank), S = \(configuration.totalSteps), η = \(configuration.learningRate)")
        let task = FieldTrainingTask(
            field: field, denoiser: base.denoiser, schedule: base.schedule, subjects: subjects,
            drawsPerSubject: arguments[draws], maxInputImages: arguments[maxInputImages],
            metadata: [
                "data_manifest_sha256": manifestHash, "autoencoder_sha256": autoencoderHash,
                "denoiser_sha256": denoiserHash, "training_command": invokedCommandLine(),
                "batch_size": String(settings.batchSize), "draws_per_subject": String(arguments[draws]),
                "step_target": arguments[stepTarget].rawValue,
            ])
        task.stepTarget = arguments[stepTarget]
        let runFolder = URL(fileURLWithPath: arguments[training.runFolder])
        let trainer = Trainer(task: task, settings: settings, store: CheckpointStore(folder: runFolder, keep: settings.keepCheckpoints))

        let every = arguments[diagnoseEvery]
        var noiseLogged = false
        let finished = try training.train(trainer, arguments, logger: logger) { step in
            guard every > 0, step % every == 0 else { return }
            if !noiseLogged {
                // The scale against which the step cosines are read, measured
                // once the weights are loaded or resumed.
                noiseLogged = true
                let noiseAgreement = gradientEstimateCosine(
                    field: field, denoiser: base.denoiser, schedule: base.schedule, subjects: diagnosticSubjects,
                    states: [0, configuration.totalSteps / 2], draws: 64)
                logger.info(String(
                    format: "draw noise: two independent 64-draw gradient steps agree with cosine %.3f, so a field step equal to the mean gradient would score about %.3f",
                    noiseAgreement, max(noiseAgreement, 0).squareRoot()))
            }
            // The raw weights move with every noisy step; the moving average
            // is what gets saved, so both are shown.
            let agreement = { fieldStepAgreement(
                field: field, denoiser: base.denoiser, schedule: base.schedule, subjects: diagnosticSubjects,
                states: [0, configuration.totalSteps / 2], draws: 64) }
            let raw = agreement()
            let averaged = (try? trainer.withAverages(agreement)) ?? raw
            logger.info(String(
                format: "step %d: cosine of the field's step with a 64-draw gradient step: %.3f (moving average of the weights: %.3f); with the subjects' mean gradient step: %.3f (%.3f); the subjects' gradients share their direction with cosine %.3f",
                step, raw.withOwnGradient, averaged.withOwnGradient, raw.withMeanGradient, averaged.withMeanGradient,
                averaged.sharedByGradients))
        }
        guard finished else { return }

        try training.selectSavedWeights(trainer, arguments, logger: logger)
        var metadata = task.modelMetadata
        metadata["step"] = String(trainer.step)
        let url = URL(fileURLWithPath: arguments[output])
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ModelFile.save(field, configuration: configuration, kind: "field", metadata: metadata, to: url)
        logger.info("wrote \(url.path)")
    }

    /// Returns the gradient scale stored with the weights this run continues
    /// from (the run folder's latest checkpoint with `--resume`, or the
    /// `--init-weights` file), else nil. Measuring it again could differ in
    /// the last bits and make the configurations unequal.
    private func resumedGradientScale(_ arguments: ParsedArguments) throws -> Float? {
        var source: URL?
        if let path = arguments[training.initialWeights] {
            source = URL(fileURLWithPath: path)
        } else if arguments[training.resume] {
            let store = CheckpointStore(folder: URL(fileURLWithPath: arguments[training.runFolder]))
            source = try store.latest()?.appendingPathComponent("model.safetensors")
        }
        guard let source else { return nil }
        let file = try SafeTensors.readHeader(contentsOf: source)
        guard let json = file.metadata["config"],
              let saved = try? JSONDecoder().decode(FieldConfiguration.self, from: Data(json.utf8)) else { return nil }
        return saved.gradientScale
    }
}

/// `count` subjects spread evenly over the list, each with several images
/// where possible, for diagnostics that must see the same subjects every time.
func fixedSubjects(_ subjects: [SubjectLatents], count: Int) -> [SubjectLatents] {
    let multi = subjects.filter { $0.imageCount > 2 }
    let pool = multi.count >= count ? multi : subjects
    return (0..<min(count, pool.count)).map { pool[$0 * pool.count / min(count, pool.count)] }
}
