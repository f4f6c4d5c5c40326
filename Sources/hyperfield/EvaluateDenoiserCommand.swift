import CommandLineKit
import Diffusion
import Foundation
import ImageIO
import Metrics
import TensorCore

/// `hyperfield evaluate-denoiser`: how often the base denoiser's samples of a
/// class look like that class to the CLIP-I-style feature net.
struct EvaluateDenoiserCommand: Command {
    let name = "evaluate-denoiser"
    let summary = "measure how often samples of each class are recognized as that class among real photographs"
    let description = """
        Samples --count images of each class (face, cat, dog) at each \
        guidance scale and embeds them with the CLIP-I-style feature net, \
        next to real photographs of each class: held-out LFW people for \
        faces, held-out DogFaceNet dogs for dogs, and the cat faces for cats \
        (which have no held-out split, so these were in the training data). \
        A sample agrees with its class when most of its --neighbours nearest \
        photographs (by cosine) are of that class. The same check on the \
        photographs themselves, each leaving itself out, gives the ceiling.

        Agreement says whether a sample reads as its class, not how sharp or \
        varied the samples are: look at the grid from `hyperfield sample` too.

          hyperfield evaluate-denoiser --count 32 --guidance-scales 1,3
        """

    let autoencoderPath = Option.path("autoencoder", default: "models/autoencoder.safetensors", help: "trained autoencoder")
    let denoiserPath = Option.path("denoiser", default: "models/denoiser.safetensors", help: "trained base denoiser to evaluate")
    let clipIPath = Option.path("clip-i", default: "models/clip-i.safetensors", help: "CLIP-I-style feature net that embeds samples and photographs")
    let count = Option.integer("count", default: 32, unit: "images", minimum: 1, help: "samples per class and guidance scale")
    let references = Option.integer("references", default: 300, unit: "images", minimum: 1, help: "most real photographs per class, evenly spread over the class's files")
    let neighbours = Option.integer("neighbours", default: 10, unit: "photographs", minimum: 1, help: "nearest photographs that vote on a sample's class")
    let steps = Option.integer("steps", default: 25, unit: "steps", minimum: 1, maximum: 1000, help: "DDIM denoising steps")
    let guidanceScales = Option.list("guidance-scales", of: Double.self, default: [1, 3], unit: "scale", help: "classifier-free guidance scales; 1 turns guidance off")
    let seed = Option.integer("seed", default: 0, unit: "seed", minimum: 0, help: "seed of the initial noise")
    let data = Option.path("data", help: "folder of the shared photographs (default: $HYPERFIELD_DATA, else ../shared/data)").optional()
    let threads = Option.integer("threads", default: 0, unit: "threads", minimum: 0, help: "threads for the engine's loops and products; 0 uses HYPERFIELD_THREADS or every core")
    let json = Option.json

    var options: [any CommandOption] {
        [autoencoderPath, denoiserPath, clipIPath, count, references, neighbours, steps, guidanceScales, seed, data, threads, json]
    }

    struct Agreement: Encodable {
        let guidanceScale: Double?
        let perClass: [String: Double]

        enum CodingKeys: String, CodingKey {
            case guidanceScale = "guidance_scale"
            case perClass = "agreement"
        }
    }

    struct Report: Encodable {
        let denoiser: String
        let referenceCounts: [String: Int]
        let samplesPerClass: Int
        let neighbours: Int
        let steps: Int
        let seed: Int
        let photographs: Agreement
        let samples: [Agreement]

        enum CodingKeys: String, CodingKey {
            case denoiser
            case referenceCounts = "reference_images"
            case samplesPerClass = "samples_per_class"
            case neighbours, steps, seed, photographs, samples
        }
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        if arguments[threads] > 0 { Threading.setThreadCount(arguments[threads]) }
        let catalog = try TrainingData.evaluationCatalog(arguments[data], logger: logger)
        let base = try BaseModels.load(autoencoder: arguments[autoencoderPath], denoiser: arguments[denoiserPath])
        let (net, _) = try loadFeatureNet(from: URL(fileURLWithPath: arguments[clipIPath]))
        let classNames = TrainingData.classes.map(\.rawValue)

        // Real photographs of each class.
        let preparation = ImagePreparation(resolution: net.configuration.imageSize)
        var referenceEmbeddings: [Tensor] = []
        var referenceLabels: [Int] = []
        var referenceCounts: [String: Int] = [:]
        for (label, subjectClass) in TrainingData.classes.enumerated() {
            let listings: [SubjectListing]
            switch subjectClass {
            case .face: listings = try catalog.subjects(of: .lfw, split: .heldOut)
            case .dog: listings = try catalog.subjects(of: .dogFaceNet, split: .heldOut)
            case .cat: listings = try catalog.subjects(of: .catFaces, split: .all)
            }
            let images = try SubjectDataset.load(listings, preparation: preparation, log: logger.info).subjects.flatMap(\.images)
            let picked = stride(from: 0, to: images.count, by: max(1, images.count / arguments[references]))
                .prefix(arguments[references]).map { images[$0] }
            referenceEmbeddings.append(net.embeddings(of: picked))
            referenceLabels += [Int](repeating: label, count: picked.count)
            referenceCounts[subjectClass.rawValue] = picked.count
        }
        guard arguments[neighbours] < referenceLabels.count else {
            throw UsageError("--neighbours \(arguments[neighbours]) must be below the \(referenceLabels.count) reference photographs")
        }
        let classifier = NearestNeighbourClassifier(
            references: Tensor.concat(referenceEmbeddings, axis: 0), labels: referenceLabels,
            classCount: classNames.count, k: arguments[neighbours])
        let votes = classifier.classify(classifier.references, excludingReference: true)
        var photographAgreement: [String: Double] = [:]
        for (label, name) in classNames.enumerated() {
            let ofClass = zip(votes, referenceLabels).filter { $0.1 == label }
            photographAgreement[name] = Double(ofClass.filter { $0.0 == label }.count) / Double(max(ofClass.count, 1))
        }
        let photographs = Agreement(guidanceScale: nil, perClass: photographAgreement)

        // Samples of each class at each guidance scale.
        var rng = SeededGenerator(seed: UInt64(arguments[seed]))
        var sampled: [Agreement] = []
        let start = Date()
        for guidance in arguments[guidanceScales] {
            var settings = SamplerSettings()
            settings.steps = arguments[steps]
            settings.guidanceScale = Float(guidance)
            let sampler = DDIMSampler(denoiser: base.denoiser, schedule: base.schedule, settings: settings)
            var perClass: [String: Double] = [:]
            for (label, name) in classNames.enumerated() {
                let conditions = [Condition](repeating: Condition(classIndex: label), count: arguments[count])
                let latents = sampler.sample(conditions: conditions, adapter: nil, rng: &rng)
                let images = try BaseModels.decode(latents, autoencoder: base.autoencoder, normalization: base.normalization)
                perClass[name] = classifier.agreement(net.embeddings(of: images), label: label)
            }
            sampled.append(Agreement(guidanceScale: guidance, perClass: perClass))
            logger.info(String(format: "sampled guidance %.1f in %.1f s", guidance, Date().timeIntervalSince(start)))
        }

        let report = Report(
            denoiser: arguments[denoiserPath], referenceCounts: referenceCounts, samplesPerClass: arguments[count],
            neighbours: arguments[neighbours],
            steps: arguments[steps], seed: arguments[seed], photographs: photographs, samples: sampled)
        if arguments[json] {
            try JSONOutput.write(report)
            return
        }
        let counts = classNames.map { "\($0) \(referenceCounts[$0] ?? 0)" }.joined(separator: ", ")
        print("class agreement among the \(arguments[neighbours]) nearest photographs by CLIP-I cosine (photographs: \(counts))")
        print("                  " + classNames.map { $0.padding(toLength: 7, withPad: " ", startingAt: 0) }.joined())
        for row in [photographs] + sampled {
            let title = row.guidanceScale.map { String(format: "samples, g %.1f", $0) } ?? "photographs"
            let values = classNames.map { String(format: "%-7.3f", row.perClass[$0] ?? 0) }.joined()
            print(title.padding(toLength: 18, withPad: " ", startingAt: 0) + values)
        }
    }
}
