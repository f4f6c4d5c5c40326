import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Personalization
import TensorCore

/// `hyperfield sample`: images from the base models, optionally with an
/// adapter in the denoiser's slots.
struct SampleCommand: Command {
    let name = "sample"
    let summary = "generate images of a class, optionally personalized by an adapter"
    let description = """
        Runs the DDIM sampler with classifier-free guidance and decodes the \
        latents to images. Writes one PNG per image and a grid whose rows are \
        the classes at each guidance scale. The same --seed gives the same \
        images.

          hyperfield sample --classes face,cat,dog --guidance-scales 1,3 --grid docs/samples.png
        """

    let autoencoderPath = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "trained autoencoder")
    let denoiserPath = Option.path("denoiser", default: "models/denoiser.safetensors", help: "trained base denoiser")
    let classes = Option.list("classes", of: String.self, default: ["face"], unit: "classes", help: "classes to sample: face, cat, dog")
    let count = Option.integer("count", default: 8, unit: "images", minimum: 1, help: "images per class and guidance scale")
    let steps = Option.integer("steps", default: 25, unit: "steps", minimum: 1, maximum: 1000, help: "DDIM denoising steps")
    let guidanceScales = Option.list("guidance-scales", of: Double.self, default: [3], unit: "scale", help: "classifier-free guidance scales; 1 turns guidance off")
    let eta = Option.double("eta", default: 0, unit: "fraction", minimum: 0, maximum: 1, help: "DDIM eta: 0 deterministic, 1 as noisy as DDPM")
    let seed = Option.integer("seed", default: 0, unit: "seed", minimum: 0, help: "seed of the initial noise")
    let outputFolder = Option.path("output-dir", default: "out/samples", help: "folder for the PNG files")
    let grid = Option.path("grid", help: "path of the grid PNG (default: <output-dir>-grid.png, beside the folder, so that the folder contains only samples for metrics)").optional()
    let withoutIdentifier = Option.flag("without-identifier", help: "leave out the identifier token [V] (the class prior alone)")
    let adapterPath = Option.path("adapter", help: "adapter in the denoiser's slots: a native, PEFT or kohya file, or a PEFT folder").optional()
    let variationStrength = Option.double("variation-strength", default: 0, unit: "fraction of the noise schedule", minimum: 0, maximum: 1, help: "above 0, every image of a class and guidance scale is a variation of the first: its latents noised to this fraction of the schedule and denoised again (small values keep the subject)")
    let adapterScale = Option.double("adapter-scale", default: 1, unit: "multiple of the update", help: "multiplies every slot's update; 0 is the base model")

    var options: [any CommandOption] {
        [autoencoderPath, denoiserPath, classes, count, steps, guidanceScales, eta, seed, outputFolder, grid, withoutIdentifier, adapterPath, adapterScale, variationStrength]
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        let classIndices = try arguments[classes].map { name -> Int in
            guard let index = TrainingData.classIndex(named: name) else {
                throw UsageError("--classes: unknown class '\(name)'; use face, cat or dog")
            }
            return index
        }
        let base = try BaseModels.load(autoencoder: arguments[autoencoderPath], denoiser: arguments[denoiserPath])
        var adapter: Adapter?
        if let path = arguments[adapterPath] {
            let imported = try AdapterImport.read(contentsOf: URL(fileURLWithPath: path), base: base.denoiser)
            for note in imported.notes { logger.warning("\(path): \(note)") }
            adapter = imported.adapter.scaled(by: Float(arguments[adapterScale]))
            logger.info("sampling with the adapter \(path) (\(imported.adapter.slots.count) slots, scale \(arguments[adapterScale]))")
        }
        let folder = URL(fileURLWithPath: arguments[outputFolder], isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)

        var rng = SeededGenerator(seed: UInt64(arguments[seed]))
        var images: [RGBImage] = []
        var labels: [String] = []
        let start = Date()
        for guidance in arguments[guidanceScales] {
            var settings = SamplerSettings()
            settings.steps = arguments[steps]
            settings.guidanceScale = Float(guidance)
            settings.eta = Float(arguments[eta])
            let sampler = DDIMSampler(denoiser: base.denoiser, schedule: base.schedule, settings: settings)
            for classIndex in classIndices {
                let conditions = [Condition](
                    repeating: Condition(classIndex: classIndex, hasIdentifier: !arguments[withoutIdentifier]),
                    count: arguments[count])
                var latents = sampler.sample(conditions: conditions, adapter: adapter, rng: &rng)
                let strength = Float(arguments[variationStrength])
                if strength > 0 && conditions.count > 1 {
                    // Variations of the first image: the same subject.
                    let first = latents.sliced(axis: 0, 0..<1)
                    let copies = Tensor.concat([Tensor](repeating: first, count: conditions.count - 1), axis: 0)
                    let variations = sampler.sample(
                        conditions: Array(conditions.dropFirst()), adapter: adapter, start: (copies, strength), rng: &rng)
                    latents = Tensor.concat([first, variations], axis: 0)
                }
                let decoded = try BaseModels.decode(latents, autoencoder: base.autoencoder, normalization: base.normalization)
                let className = TrainingData.classes[classIndex].rawValue
                for (index, image) in decoded.enumerated() {
                    let url = folder.appendingPathComponent(String(format: "%@-g%.1f-%02d.png", className, guidance, index))
                    try ImageEncoder.writePNG(image, to: url)
                }
                images += decoded
                labels.append(String(format: "%@, guidance %.1f", className, guidance))
            }
        }
        let gridURL = URL(fileURLWithPath: arguments[grid] ?? folder.standardizedFileURL.path + "-grid.png")
        try FileManager.default.createDirectory(at: gridURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        try ImageGrid(columns: arguments[count]).writePNG(images, rowLabels: labels, to: gridURL)
        logger.info(String(format: "wrote %@ to %@ and the grid %@ in %.1f s", imageCountText(images.count), folder.path, gridURL.path, Date().timeIntervalSince(start)))
    }
}
