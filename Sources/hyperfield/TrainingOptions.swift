import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import TensorCore

/// Options shared by the training commands, declared once.
struct TrainingOptions: Sendable {
    let steps: Option<Int>
    let batchSize: Option<Int>
    let learningRate: Option<Double>
    let warmupSteps = Option.integer("warmup-steps", default: 200, unit: "steps", minimum: 0, help: "linear warm-up of the learning rate from 0")
    let emaDecay = Option.double("ema-decay", default: 0.999, unit: "per step", minimum: 0, maximum: 0.999999, help: "decay of the weights' moving average that is saved; 0 saves the raw weights")
    let gradientClip = Option.double("gradient-clip", default: 1, unit: "L2 norm", minimum: 0, help: "maximum global gradient norm; 0 disables clipping")
    let seed = Option.integer("seed", default: 0, unit: "seed", minimum: 0, help: "seed of initialization, data order, timesteps and noise")
    let checkpointEvery = Option.integer("checkpoint-every", default: 500, unit: "steps", minimum: 0, help: "steps between checkpoints in the run folder; 0 saves only at the end")
    let keepCheckpoints = Option.integer("keep-checkpoints", default: 3, unit: "checkpoints", minimum: 1, help: "checkpoints kept in the run folder; older ones are deleted")
    let maxMinutes = Option.double("max-minutes", default: 0, unit: "minutes", minimum: 0, help: "stop with a checkpoint after this much training time, to resume later; 0 means no limit")
    let savedWeights = Option.choice("weights", choices: ["ema", "raw"], default: "ema", help: "weights written to the model file at the end: the moving average (ema) or the last step's (raw)")
    let stopAtStep = Option.integer("stop-at-step", default: 0, unit: "steps", minimum: 0, help: "stop with a checkpoint when this step is reached, to resume later; 0 means no stop")
    let resume = Option.flag("resume", help: "continue from the latest checkpoint in the run folder")
    let initialWeights = Option.path("init-weights", help: "start a new run from the weights of this model file (same configuration), with a fresh optimizer").optional()
    let runFolder: Option<String>
    let data = Option.path("data", help: "folder of the shared photographs (default: $HYPERFIELD_DATA, else ../shared/data)").optional()
    let threads = Option.integer("threads", default: 0, unit: "threads", minimum: 0, help: "threads for the engine's loops and products; 0 uses HYPERFIELD_THREADS or every core")

    init(
        defaultSteps: Int, defaultLearningRate: Double, defaultRunFolder: String, defaultBatchSize: Int = 32,
        batchUnit: String = "samples"
    ) {
        batchSize = Option.integer("batch-size", default: defaultBatchSize, unit: batchUnit, minimum: 1, help: "\(batchUnit) per optimizer step")
        steps = Option.integer("steps", default: defaultSteps, unit: "steps", minimum: 1, help: "total optimizer steps of the run")
        learningRate = Option.double("learning-rate", default: defaultLearningRate, unit: "per step", minimum: 0, help: "peak AdamW learning rate, decayed by a cosine to a tenth")
        runFolder = Option.path("run-dir", default: defaultRunFolder, help: "folder of checkpoints (checkpoint-N and a latest pointer)")
    }

    var all: [any CommandOption] {
        [steps, batchSize, learningRate, warmupSteps, emaDecay, gradientClip, seed, checkpointEvery, keepCheckpoints,
         maxMinutes, stopAtStep, savedWeights, resume, initialWeights, runFolder, data, threads]
    }

    func settings(_ arguments: ParsedArguments) -> TrainingSettings {
        var settings = TrainingSettings()
        settings.steps = arguments[steps]
        settings.batchSize = arguments[batchSize]
        settings.learningRate = Float(arguments[learningRate])
        settings.minimumLearningRate = settings.learningRate / 10
        settings.warmupSteps = arguments[warmupSteps]
        settings.emaDecay = Float(arguments[emaDecay])
        settings.gradientClip = Float(arguments[gradientClip])
        settings.seed = UInt64(arguments[seed])
        settings.checkpointEvery = arguments[checkpointEvery]
        settings.keepCheckpoints = arguments[keepCheckpoints]
        return settings
    }

    func applyThreads(_ arguments: ParsedArguments) {
        let count = arguments[threads]
        if count > 0 { Threading.setThreadCount(count) }
    }

    /// Runs `trainer` with a progress display and log lines, honouring
    /// `--resume` and `--max-minutes`. Returns whether the run reached its
    /// last step (false when the time budget stopped it). `afterStep` runs
    /// after every step with the step number (sample grids).
    func train(
        _ trainer: Trainer, _ arguments: ParsedArguments, logger: Logger, afterStep: ((Int) -> Void)? = nil
    ) throws -> Bool {
        let store = trainer.store
        if arguments[resume] {
            if let step = try trainer.resumeIfPossible(warn: logger.warning) {
                logger.info("resumed from \(store.checkpointFolder(step: step).path) at step \(step)")
            } else {
                logger.info("no checkpoint in \(store.folder.path); starting a new run")
            }
        } else if !store.steps().isEmpty {
            throw UsageError("run folder \(store.folder.path) already has checkpoints; pass --resume to continue it, or choose another --run-dir")
        }
        if let path = arguments[initialWeights] {
            if arguments[resume] && !store.steps().isEmpty {
                throw UsageError("--init-weights starts a new run, but --resume continues \(store.folder.path); give one of them")
            }
            try loadInitialWeights(path, into: trainer.task)
            logger.info("initialized the model from \(path)")
        }

        let budget = arguments[maxMinutes] * 60
        let stopStep = arguments[stopAtStep]
        let start = Date()
        let progress = ProgressReporter(label: "train \(trainer.task.modelKind)", total: trainer.settings.steps, unit: "steps",
                                        startCount: trainer.step)
        var recentLosses: [Float] = []
        let shouldStop = { (step: Int) -> Bool in
            (budget > 0 && Date().timeIntervalSince(start) >= budget) || (stopStep > 0 && step >= stopStep)
        }
        try trainer.run(shouldStop: shouldStop, events: { event in
            switch event {
            case .started(let step, let total, let resumed):
                logger.info("\(resumed ? "resuming" : "starting") at step \(step) of \(total), batch \(trainer.settings.batchSize)")
            case .step(let step, let loss, let rate, let norm):
                recentLosses.append(loss)
                if recentLosses.count > 50 { recentLosses.removeFirst() }
                let mean = recentLosses.reduce(0, +) / Float(recentLosses.count)
                progress.update(completed: step, fields: [
                    ProgressField("loss", String(format: "%.4f", mean)),
                    ProgressField("lr", String(format: "%.2e", rate)),
                    ProgressField("grad", String(format: "%.2f", norm)),
                ])
                afterStep?(step)
            case .checkpointSaved(let step, let folder):
                logger.info("step \(step): wrote checkpoint \(folder)")
            case .finished:
                break
            }
        })
        progress.finish()
        let finished = trainer.step >= trainer.settings.steps
        if !finished {
            logger.info("stopped at step \(trainer.step) (time budget or --stop-at-step); continue with --resume, or finish here with --resume --steps \(trainer.step)")
        }
        return finished
    }

    /// Copies the weights of the model file at `path` into the task's model,
    /// after checking that the file is of the same kind and configuration.
    private func loadInitialWeights(_ path: String, into task: TrainingTask) throws {
        let url = URL(fileURLWithPath: path)
        let file = try SafeTensors.read(contentsOf: url)
        guard file.metadata["format"] == "hyperfield.\(task.modelKind)" else {
            throw RuntimeError("--init-weights \(path) is not a \(task.modelKind) file (format \(file.metadata["format"] ?? "not set")); pass a file written by the same train command")
        }
        guard let saved = file.metadata["config"], saved == task.configurationJSON else {
            throw RuntimeError("--init-weights \(path) has configuration \(file.metadata["config"] ?? "none") but this run asks for \(task.configurationJSON); use the same sizes as the file")
        }
        try task.model.load(file.tensorsByName)
    }

    /// Puts the weights chosen by `--weights` into the trained model.
    func selectSavedWeights(_ trainer: Trainer, _ arguments: ParsedArguments, logger: Logger) throws {
        if arguments[savedWeights] == "ema" {
            try trainer.applyAverages()
            logger.info("saving the moving average of the weights")
        } else {
            logger.info("saving the weights of the last step")
        }
    }

    /// Returns the shared data folder after checking that it exists.
    func dataRoot(_ arguments: ParsedArguments) throws -> URL {
        try TrainingData.existingDataRoot(arguments[data])
    }
}

/// Returns the command line that started this process, for model cards.
func invokedCommandLine() -> String {
    (["hyperfield"] + CommandLine.arguments.dropFirst()).map { argument in
        argument.contains(" ") ? "'\(argument)'" : argument
    }.joined(separator: " ")
}

/// Returns where the data manifest of a model written to `modelPath` goes:
/// `data/<name>.manifest.tsv` for a model under `models/`, else next to the
/// model, so that trial runs never overwrite a shipped model's manifest.
func manifestURL(forModel modelPath: String) -> URL {
    let model = URL(fileURLWithPath: modelPath)
    let name = model.deletingPathExtension().lastPathComponent
    let folder = model.deletingLastPathComponent()
    if folder.lastPathComponent == "models" {
        return folder.deletingLastPathComponent().appendingPathComponent("data/\(name).manifest.tsv")
    }
    return folder.appendingPathComponent("\(name).manifest.tsv")
}
