import CommandLineKit

/// Export formats, to exercise enum-backed choices.
enum FixtureFormat: String, CaseIterable, Sendable {
    case native, peft, kohya, merged
}

/// A command with one option of every kind and one positional argument.
struct SampleFixture: Command {
    let name = "sample"
    let summary = "generate images of a subject from an adapter"
    let description = """
        Loads the adapter into the denoiser's slots and runs the DDIM sampler \
        with classifier-free guidance.

          hyperfield sample subject.safetensors --steps 50
        """

    let adapter = Option.path("adapter", help: "adapter file").positional()
    let steps = Option.integer("steps", default: 50, unit: "steps", minimum: 1, maximum: 1000,
                               help: "DDIM sampling steps")
    let learningRate = Option.double("learning-rate", default: 0.0001, minimum: 0,
                                     help: "step size of the optimizer")
    let guidanceScale = Option.float("guidance-scale", default: 7.5, unit: "scale factor",
                                     help: "classifier-free guidance scale")
    let stateFraction = Option.double("state-fraction", default: 1, unit: "fraction of S",
                                      minimum: 0, maximum: 1, help: "convergence state of the adapter")
    let timeout = Option.double("timeout", default: 30, unit: "seconds", help: "time limit")
    let prompt = Option.string("prompt", default: "a photo of [V]", help: "condition text")
    let output = Option.path("output", default: "out/samples", help: "folder for the images")
    let format = Option.choice("format", default: FixtureFormat.native, help: "adapter file format")
    let sampler = Option.choice("sampler", choices: ["ddim", "ddpm"], default: "ddim", help: "sampler")
    let states = Option.list("states", of: Int.self, default: [0, 250, 500], unit: "steps", minimum: 0,
                             help: "convergence states to sample")
    let scales = Option.list("scales", of: Double.self, default: [], help: "guidance scales to compare")
    let slots = Option.list("slots", of: String.self, default: ["attn"], help: "slot name patterns")
    let resume = Option.path("resume", help: "checkpoint to resume from").optional()
    let json = Option.json

    var options: [any CommandOption] {
        [adapter, steps, learningRate, guidanceScale, stateFraction, timeout, prompt, output,
         format, sampler, states, scales, slots, resume, json]
    }

    func run(_ arguments: ParsedArguments) throws {
        if arguments[prompt] == "fail" {
            throw RuntimeError("adapter file 'x' not found; check the path")
        }
        if arguments[steps] == 999 && arguments.isGiven(timeout) {
            throw UsageError("--steps 999 and --timeout cannot be combined")
        }
    }
}

/// A command with a required named option and a positional list.
struct MetricsFixture: Command {
    let name = "metrics"
    let summary = "score generated images against reference photos"
    let description = ""

    let references = Option.path("references", help: "folder of reference photos")
    let seed = Option.integer("seed", default: 0, help: "random seed")
    let images = Option.list("images", of: String.self, help: "generated images").positional()

    var options: [any CommandOption] { [references, seed, images] }

    func run(_ arguments: ParsedArguments) throws {}
}
