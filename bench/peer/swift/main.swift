import Diffusion
import Foundation
import Personalization
import TensorCore

// The Swift side of the PyTorch peer benchmark: runs one workload in this
// process and prints one JSON line with its timings, so that the driver
// (bench/peer/compare.py) can alternate engines and read each process's peak
// RSS. bench/peer/workloads.py is the PyTorch side, with the same shapes.
//
// Usage: hyperfield-bench-peer WORKLOAD [--repeats N] [--threads N] [--output FILE]
//   WORKLOAD: describe, denoiser-train, field-train, sample, personalize, check
//   check writes random weights, inputs and this engine's outputs to FILE
//   (safetensors), for workloads.py to recompute and compare.

func option(_ name: String, default value: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count,
          let parsed = Int(arguments[index + 1]) else { return value }
    return parsed
}

let workloads = ["describe", "denoiser-train", "field-train", "sample", "personalize", "check"]
guard CommandLine.arguments.count >= 2, workloads.contains(CommandLine.arguments[1]) else {
    FileHandle.standardError.write(Data("usage: hyperfield-bench-peer WORKLOAD [--repeats N] [--threads N] [--output FILE], with WORKLOAD one of \(workloads.joined(separator: ", "))\n".utf8))
    exit(2)
}
let workload = CommandLine.arguments[1]
let repeats = option("--repeats", default: 3)
let threads = option("--threads", default: Threading.threadCount)
Threading.setThreadCount(threads)

/// Times `repeats` runs of `body`, in seconds, after one untimed run of
/// `warmUp` (by default `body` itself).
func timedRuns(warmUp: (() -> Void)? = nil, _ body: () -> Void) -> [Double] {
    if let warmUp { warmUp() } else { body() }
    return (0..<repeats).map { _ in
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

func printJSON(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// Summarizes a module's parameters: total and trainable counts, and `name → shape`.
func parameterSummary(_ module: Module) -> [String: Any] {
    var shapes: [String: [Int]] = [:]
    for (name, tensor) in module.namedParameters() { shapes[name] = tensor.shape }
    return ["count": module.parameterCount, "trainable": module.trainableParameters().reduce(0) { $0 + $1.tensor.count },
            "shapes": shapes]
}

// The models at their default configurations; weights are random, which is
// enough to time them.
var rng = SeededGenerator(seed: 1)
let denoiserConfiguration = DenoiserConfiguration()
let denoiser = Denoiser(denoiserConfiguration, seed: 1)
let schedule = NoiseSchedule()
let latentShape = [denoiserConfiguration.latentChannels, denoiserConfiguration.latentSize, denoiserConfiguration.latentSize]

/// Makes training subjects for the field: 8 subjects of 6 random latents
/// each, classes in turn.
func randomSubjects(rng: inout SeededGenerator) -> [SubjectLatents] {
    (0..<8).map { index in
        SubjectLatents(id: "subject-\(index)", latents: rng.normalTensor([6] + latentShape),
                       classIndex: index % denoiserConfiguration.classCount)
    }
}

var result: [String: Any] = ["engine": "swift", "workload": workload, "threads": Threading.threadCount]

switch workload {
case "describe":
    let field = HypernetworkField(FieldConfiguration(slots: denoiser.slots), seed: 1)
    result["denoiser"] = parameterSummary(denoiser)
    result["field"] = parameterSummary(field)
    result["autoencoder"] = parameterSummary(Autoencoder(AutoencoderConfiguration(), seed: 1))
    result["slots"] = denoiser.slots.count

case "denoiser-train":
    // One AdamW step of the denoising loss at batch 32, as the denoiser
    // section of bench/Sources/main.swift times it.
    let batch = 32
    let latents = rng.normalTensor([batch] + latentShape)
    let conditions = (0..<batch).map { Condition(classIndex: $0 % denoiserConfiguration.classCount) }
    let optimizer = AdamW(parameters: denoiser.trainableParameters(), learningRate: 1e-4)
    result["seconds"] = timedRuns {
        let draws = DenoisingDraws.random(shape: latents.shape, timestepRange: 0..<schedule.timesteps, rng: &rng)
        let loss = denoisingLoss(denoiser: denoiser, schedule: schedule, latents: latents, conditions: conditions,
                                 timesteps: draws.timesteps, noise: draws.noise)
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
    }

case "field-train":
    // One step of `Trainer.run` on `FieldTrainingTask` at the field's
    // defaults: 4 subjects, 16 draws each, AdamW, clipping at norm 1, EMA.
    denoiser.setTrainable(false)
    let field = HypernetworkField(FieldConfiguration(slots: denoiser.slots), seed: 1)
    let task = FieldTrainingTask(
        field: field, denoiser: denoiser, schedule: schedule, subjects: randomSubjects(rng: &rng),
        drawsPerSubject: 16, maxInputImages: 4)
    let parameters = field.trainableParameters()
    let optimizer = AdamW(parameters: parameters, learningRate: 1e-3, weightDecay: 0)
    let ema = ExponentialMovingAverage(parameters: parameters, decay: 0.999)
    var step = 0
    result["seconds"] = timedRuns {
        let loss = task.loss(step: step, batchSize: 4, rng: &rng)
        precondition(loss.item.isFinite, "field-train: the loss is not finite at step \(step)")
        optimizer.zeroGrad()
        loss.backward()
        _ = clipGradientNorm(parameters, maxNorm: 1)
        optimizer.step()
        ema.update()
        step += 1
    }

case "sample":
    var settings = SamplerSettings()
    settings.steps = 25
    settings.guidanceScale = 3
    let sampler = DDIMSampler(denoiser: denoiser, schedule: schedule, settings: settings)
    var oneStep = settings
    oneStep.steps = 1
    // A whole sampling run is long, so a one-step run is the warm-up.
    let warmUpSampler = DDIMSampler(denoiser: denoiser, schedule: schedule, settings: oneStep)
    let conditions = (0..<16).map { Condition(classIndex: $0 % denoiserConfiguration.classCount) }
    result["seconds"] = timedRuns(warmUp: { _ = warmUpSampler.sample(conditions: conditions, rng: &rng) }) {
        _ = sampler.sample(conditions: conditions, rng: &rng)
    }

case "personalize":
    // Encode 4 images of 64x64, normalize the latents, and run the field at
    // s = S: the adapter a subject gets at use time.
    let autoencoder = Autoencoder(AutoencoderConfiguration(), seed: 1)
    let channels = denoiserConfiguration.latentChannels
    let normalization = LatentNormalization(
        mean: [Float](repeating: 0, count: channels), standardDeviation: [Float](repeating: 1, count: channels))
    let field = HypernetworkField(FieldConfiguration(slots: denoiser.slots), seed: 1)
    let images = rng.uniformTensor([4, 3, 64, 64], -1, 1)
    result["seconds"] = timedRuns {
        _ = GradMode.withoutGradients {
            field(normalization.normalize(autoencoder.encode(images)), state: Double(field.configuration.totalSteps))
        }
    }

case "check":
    guard let index = CommandLine.arguments.firstIndex(of: "--output"), index + 1 < CommandLine.arguments.count else {
        FileHandle.standardError.write(Data("check: missing --output FILE, the safetensors file to write\n".utf8))
        exit(2)
    }
    let url = URL(fileURLWithPath: CommandLine.arguments[index + 1])
    try! writeCheck(denoiser: denoiser, schedule: schedule, rng: &rng, to: url)
    result["output"] = url.path

default:
    preconditionFailure("unhandled workload \(workload)")
}

printJSON(result)
