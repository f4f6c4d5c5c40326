import CBLAS
import Foundation
import Diffusion
import TensorCore

// Tensor-core benchmark: GFLOP/s of 3x3 convolution (forward and backward) at
// the denoiser's shapes and of attention at 256 tokens, next to cblas_sgemm on
// a 1024x1024 product measured in the same run.
//
// Usage: swift run -c release hyperfield-bench [--threads N] [--repeats N]

func option(_ name: String, default value: Int) -> Int {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count,
          let parsed = Int(arguments[index + 1]) else { return value }
    return parsed
}

/// Value of `--only`: run just the sections whose name contains it
/// (sgemm, conv, attention, denoiser, autoencoder).
let only: String? = {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: "--only"), index + 1 < arguments.count else { return nil }
    return arguments[index + 1]
}()

func runs(_ section: String) -> Bool {
    only.map { section.contains($0) } ?? true
}

let threads = option("--threads", default: ProcessInfo.processInfo.activeProcessorCount)
let repeats = option("--repeats", default: 7)
Threading.setThreadCount(threads)

/// Median seconds of `repeats` timed runs of `body`, after one warm-up run.
func medianSeconds(_ body: () -> Void) -> Double {
    medianSeconds(prepare: {}, { _ in body() })
}

/// Median seconds of `repeats` runs of `body`; `prepare` runs before each
/// and is not timed.
func medianSeconds<State>(prepare: () -> State, _ body: (State) -> Void) -> Double {
    body(prepare())
    var times: [Double] = []
    for _ in 0..<repeats {
        let state = prepare()
        let start = DispatchTime.now().uptimeNanoseconds
        body(state)
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return times.sorted()[times.count / 2]
}

func report(_ label: String, flops: Double, seconds: Double, reference: Double? = nil) {
    let rate = flops / seconds / 1e9
    var line = String(format: "%-44@ %9.2f ms %8.1f GFLOP/s", label as NSString, seconds * 1e3, rate)
    if let reference { line += String(format: "   %5.0f%% of sgemm", 100 * rate / reference) }
    print(line)
}

var rng = SeededGenerator(seed: 1)
let machine = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("model name") }?
    .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
print("machine: \(machine); threads: \(threads); median of \(repeats) runs")

// cblas_sgemm, 1024 x 1024 x 1024, with OpenBLAS's own threads: the best
// the library does on this machine. The engine keeps OpenBLAS at one thread
// and splits products itself; the line after shows that path.
let size = 1024
let a = rng.normalTensor([size, size]).data, b = rng.normalTensor([size, size]).data
var c = [Float](repeating: 0, count: size * size)
openblas_set_num_threads(Int32(threads))
let sgemmSeconds = medianSeconds {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            c.withUnsafeMutableBufferPointer { pc in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(size), Int32(size), Int32(size),
                            1, pa.baseAddress!, Int32(size), pb.baseAddress!, Int32(size), 0, pc.baseAddress!, Int32(size))
            }
        }
    }
}
let sgemmFlops = 2 * Double(size * size * size)
let sgemmRate = sgemmFlops / sgemmSeconds / 1e9
openblas_set_num_threads(1)
// OpenBLAS's idle workers spin for a while after a threaded call. The pause
// lets them sleep, so they do not take a core from the engine's timings.
Thread.sleep(forTimeInterval: 1)
report("cblas_sgemm 1024x1024x1024 (OpenBLAS threads)", flops: sgemmFlops, seconds: sgemmSeconds)
let lhs = Tensor(shape: [size, size], data: a), rhs = Tensor(shape: [size, size], data: b)
let engineSeconds = medianSeconds { _ = GradMode.withoutGradients { lhs.matmul(rhs) } }
report("matmul 1024x1024x1024 (engine threads)", flops: sgemmFlops, seconds: engineSeconds, reference: sgemmRate)

// 3x3 convolution, stride 1, padding 1, batch 32
for (channels, side) in [(64, 16), (128, 16), (64, 8), (128, 8)] where runs("conv") {
    let batch = 32
    let x = rng.normalTensor([batch, channels, side, side])
    let weight = rng.normalTensor([channels, channels, 3, 3], scale: 0.05)
    let bias = rng.normalTensor([channels])
    let forwardFlops = 2 * Double(batch * channels * side * side * channels * 9)
    let forward = medianSeconds {
        _ = GradMode.withoutGradients { x.conv2d(weight: weight, bias: bias, stride: 1, padding: 1) }
    }
    report("conv3x3 fwd  N=\(batch) C=\(channels) \(side)x\(side)", flops: forwardFlops, seconds: forward, reference: sgemmRate)

    x.requiresGrad = true
    weight.requiresGrad = true
    bias.requiresGrad = true
    let seed = rng.normalTensor([batch, channels, side, side])
    // Backward is two GEMMs of the forward's size (input and weight
    // gradients) plus the unfold and fold; only the backward call is timed.
    let backward = medianSeconds(prepare: { () -> Tensor in
        x.grad = nil; weight.grad = nil; bias.grad = nil
        return x.conv2d(weight: weight, bias: bias, stride: 1, padding: 1)
    }) { y in y.backward(seed: seed) }
    report("conv3x3 bwd  N=\(batch) C=\(channels) \(side)x\(side)", flops: 2 * forwardFlops,
           seconds: backward, reference: sgemmRate)
}

// Attention, 256 tokens, width 128, 4 heads, batch 32
if runs("attention") {
    let batch = 32, tokens = 256, width = 128, heads = 4
    let q = rng.normalTensor([batch, tokens, width]), k = rng.normalTensor([batch, tokens, width])
    let v = rng.normalTensor([batch, tokens, width])
    // Q·Kᵀ and P·V: 2 products of 2·T·T·D per batch element (all heads).
    let forwardFlops = 2 * 2 * Double(batch * tokens * tokens * width)
    let forward = medianSeconds {
        _ = GradMode.withoutGradients { Tensor.attention(query: q, key: k, value: v, heads: heads) }
    }
    report("attention fwd N=\(batch) T=\(tokens) D=\(width) h=\(heads)", flops: forwardFlops, seconds: forward, reference: sgemmRate)
    for tensor in [q, k, v] { tensor.requiresGrad = true }
    let seed = rng.normalTensor([batch, tokens, width])
    // Backward: four products of the forward's size.
    let backward = medianSeconds(prepare: { () -> Tensor in
        for tensor in [q, k, v] { tensor.grad = nil }
        return Tensor.attention(query: q, key: k, value: v, heads: heads)
    }) { y in y.backward(seed: seed) }
    report("attention bwd N=\(batch) T=\(tokens) D=\(width) h=\(heads)", flops: 2 * forwardFlops,
           seconds: backward, reference: sgemmRate)
}

// Denoiser training step and sampling, at the default configuration.
if runs("denoiser") {
    let configuration = DenoiserConfiguration()
    let denoiser = Denoiser(configuration, seed: 1)
    let schedule = NoiseSchedule()
    let batch = 32
    let latents = rng.normalTensor([batch, configuration.latentChannels, configuration.latentSize, configuration.latentSize])
    let conditions = (0..<batch).map { Condition(classIndex: $0 % configuration.classCount) }
    let optimizer = AdamW(parameters: denoiser.trainableParameters(), learningRate: 1e-4)

    func trainingStep() {
        let draws = DenoisingDraws.random(shape: latents.shape, timestepRange: 0..<schedule.timesteps, rng: &rng)
        let loss = denoisingLoss(denoiser: denoiser, schedule: schedule, latents: latents, conditions: conditions,
                                 timesteps: draws.timesteps, noise: draws.noise)
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
    }

    FlopCounter.reset()
    FlopCounter.isEnabled = true
    _ = GradMode.withoutGradients {
        denoiser(latents, timesteps: [Int](repeating: 500, count: batch), conditions: conditions)
    }
    FlopCounter.isEnabled = false
    // Forward plus a backward of twice the forward's products.
    let stepFlops = 3 * FlopCounter.forwardFlops
    let stepSeconds = medianSeconds { trainingStep() }
    print(String(format: "denoiser %@ (%.2f M parameters), batch %d:",
                 "\(configuration.channels)", Double(denoiser.parameterCount) / 1e6, batch))
    report("  training step", flops: stepFlops, seconds: stepSeconds, reference: sgemmRate)
    print(String(format: "  %.1f samples/s", Double(batch) / stepSeconds))

    var settings = SamplerSettings()
    settings.steps = 25
    settings.guidanceScale = 3
    let sampler = DDIMSampler(denoiser: denoiser, schedule: schedule, settings: settings)
    let sixteen = (0..<16).map { Condition(classIndex: $0 % configuration.classCount) }
    // Sampling takes seconds per run, so it gets at most 3 timed runs.
    let samplingRepeats = min(repeats, 3)
    var samplingTimes: [Double] = []
    for _ in 0..<samplingRepeats {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = sampler.sample(conditions: sixteen, rng: &rng)
        samplingTimes.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    let samplingSeconds = samplingTimes.sorted()[samplingTimes.count / 2]
    print(String(format: "  DDIM sampling, 16 images, 25 steps, guidance 3: %.2f s (median of %d)", samplingSeconds, samplingRepeats))
}

// Autoencoder training step at the default configuration.
if runs("autoencoder") {
    let autoencoder = Autoencoder(AutoencoderConfiguration(), seed: 1)
    let batch = 32
    let images = rng.uniformTensor([batch, 3, 64, 64], -1, 1)
    let optimizer = AdamW(parameters: autoencoder.trainableParameters(), learningRate: 1e-4)
    FlopCounter.reset()
    FlopCounter.isEnabled = true
    _ = GradMode.withoutGradients { autoencoder.decode(autoencoder.encode(images)) }
    FlopCounter.isEnabled = false
    let stepFlops = 3 * FlopCounter.forwardFlops
    let stepSeconds = medianSeconds {
        let reconstruction = autoencoder.decode(autoencoder.encode(images))
        let loss = Tensor.l1Loss(reconstruction, images)
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
    }
    print(String(format: "autoencoder (%.2f M parameters), batch %d:", Double(autoencoder.parameterCount) / 1e6, batch))
    report("  training step", flops: stepFlops, seconds: stepSeconds, reference: sgemmRate)
    print(String(format: "  %.1f samples/s", Double(batch) / stepSeconds))
}
