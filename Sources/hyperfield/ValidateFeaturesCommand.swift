import CommandLineKit
import Foundation
import ImageIO
import Metrics
import TensorCore

/// `hyperfield validate-features`: measures on held-out identities whether
/// the feature nets measure identity, and writes the numbers into their
/// model cards.
struct ValidateFeaturesCommand: Command {
    let name = "validate-features"
    let summary = "measure identity verification and score ordering of the feature nets on held-out identities"
    let description = """
        For each feature net: the ROC-AUC of the cosine for same-identity \
        against different-identity pairs of held-out LFW people and of \
        held-out DogFaceNet dogs, and the ordering check: per held-out \
        subject, the mean cosine to its own other images should exceed the \
        mean to other held-out subjects of its class, which should exceed \
        the mean to cat faces (another class).

        LFW pairs come from LFW's pairs.txt when it has at least --min-lfw-pairs \
        same-person and as many different-person pairs whose people are all \
        held out. Otherwise --pairs same-identity and --pairs \
        different-identity pairs are drawn among the held-out people with \
        --seed; DogFaceNet pairs are always drawn that way.

        The results are written into each net's model card (the weight file's \
        path with .md) unless --no-cards is given.

          hyperfield validate-features --threads 1
        """

    let clipI = Option.path("clip-i", default: "models/clip-i.safetensors", help: "CLIP-I-style feature net")
    let dino = Option.path("dino", default: "models/dino.safetensors", help: "DINO-style feature net")
    let only = Option<FeatureNetChoice>.choice("net", help: "validate only this net (default: both)").optional()
    let pairs = Option.integer("pairs", default: 1000, unit: "pairs", minimum: 1, help: "sampled pairs of each kind, same and different identity, per collection")
    let minimumLFWPairs = Option.integer("min-lfw-pairs", default: 100, unit: "pairs", minimum: 1, help: "pairs.txt pairs of each kind needed to use LFW's own pairs")
    let seed = Option.integer("seed", default: 0, unit: "seed", minimum: 0, help: "seed of the sampled pairs")
    let noCards = Option.flag("no-cards", help: "print the results without writing them into the model cards")
    let embedding = Option<EmbeddingSource>.choice("embedding", help: "compare this activation instead of the one stored in each file (backbone, head, or whitened for a file with a fitted whitening; default: the one stored in each file); cards are then left alone").optional()
    let data = Option.path("data", help: "folder of the shared photographs (default: $HYPERFIELD_DATA, else ../shared/data)").optional()
    let threads = Option.integer("threads", default: 0, unit: "threads", minimum: 0, help: "threads for the engine's loops and products; 0 uses HYPERFIELD_THREADS or every core")
    let json = Option.json

    var options: [any CommandOption] {
        [clipI, dino, only, pairs, minimumLFWPairs, seed, noCards, embedding, data, threads, json]
    }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        if arguments[threads] > 0 { Threading.setThreadCount(arguments[threads]) }
        let catalog = try TrainingData.evaluationCatalog(arguments[data], logger: logger)
        let root = catalog.root
        let nets: [(choice: FeatureNetChoice, path: String)] = [(.clipI, arguments[clipI]), (.dino, arguments[dino])]
            .filter { arguments[only] == nil || arguments[only] == $0.0 }

        // Held-out identities and the other class, at the nets' input side.
        let loaded = try nets.map { try loadFeatureNet(from: URL(fileURLWithPath: $0.path), embeddingSource: arguments[embedding]) }
        let writesCards = !arguments[noCards] && arguments[embedding] == nil
        if !arguments[noCards] && !writesCards {
            logger.info("--embedding is given, so the model cards are left as they are")
        }
        let side = loaded[0].net.configuration.imageSize
        guard loaded.allSatisfy({ $0.net.configuration.imageSize == side }) else {
            throw RuntimeError("the feature nets take different input sizes; validate them one at a time with --net")
        }
        let preparation = ImagePreparation(resolution: side)
        logger.info("loading held-out LFW people, held-out DogFaceNet dogs and the cat faces from \(root.path)")
        let people = try SubjectDataset.load(try catalog.subjects(of: .lfw, split: .heldOut), preparation: preparation, log: logger.info)
        let dogs = try SubjectDataset.load(try catalog.subjects(of: .dogFaceNet, split: .heldOut), preparation: preparation, log: logger.info)
        let cats = try SubjectDataset.load(try catalog.subjects(of: .catFaces, split: .all), preparation: preparation, log: logger.info)
        logger.info("held out: \(people.imageCount) images of \(people.subjects.count) people, \(dogs.imageCount) images of \(dogs.subjects.count) dogs; other class: \(cats.imageCount) cat faces")

        // The pairs, the same for every net.
        let pairSets = try verificationPairSets(people: people, dogs: dogs, root: root, arguments: arguments, logger: logger)

        var reports: [FeatureNetValidation] = []
        for ((choice, path), (net, metadata)) in zip(nets, loaded) {
            logger.info("embedding the held-out images with \(choice.rawValue) (\(path))")
            let peopleEmbeddings = SubjectEmbeddings(net: net, dataset: people)
            let dogEmbeddings = SubjectEmbeddings(net: net, dataset: dogs)
            let catEmbeddings = net.embeddings(of: cats.subjects.flatMap(\.images))

            let verification = pairSets.map { set in
                (set.collection == "lfw" ? peopleEmbeddings : dogEmbeddings)
                    .verify(set.pairs, collection: set.collection, pairSource: set.source)
            }
            let ordering = [
                peopleEmbeddings.ordering(against: catEmbeddings, collection: "lfw", otherClassName: "cat_faces"),
                dogEmbeddings.ordering(against: catEmbeddings, collection: "dogfacenet", otherClassName: "cat_faces"),
            ]
            let report = FeatureNetValidation(
                net: choice.rawValue, command: invokedCommandLine(), seed: arguments[seed],
                verification: verification, ordering: ordering)
            reports.append(report)

            if writesCards {
                guard let facts = FeatureNetTrainingFacts(metadata: metadata) else {
                    throw RuntimeError("\(path) lacks the training facts that train-features stores; pass --no-cards to validate it without a model card")
                }
                let card = FeatureNetCard(configuration: net.configuration, facts: facts, modelPath: path, validation: report)
                let cardURL = URL(fileURLWithPath: modelCardPath(forModel: path))
                try AtomicFile.write(Data(card.markdown.utf8), to: cardURL)
                logger.info("wrote \(cardURL.path)")
            }
        }

        if arguments[json] {
            try JSONOutput.write(reports)
        } else {
            printReports(reports)
        }
    }

    /// Builds the verification pairs of each collection, with how they were made.
    private func verificationPairSets(
        people: SubjectDataset, dogs: SubjectDataset, root: URL, arguments: ParsedArguments, logger: Logger
    ) throws -> [(collection: String, source: String, pairs: [VerificationPair])] {
        let count = arguments[pairs]
        let seedValue = UInt64(arguments[seed])
        let minimum = arguments[minimumLFWPairs]
        var sets: [(collection: String, source: String, pairs: [VerificationPair])] = []

        let pairsFile = root.appendingPathComponent("lfw/pairs.txt")
        let listed: [VerificationPair]
        if let text = try? String(contentsOf: pairsFile, encoding: .utf8) {
            listed = VerificationPairs.fromLFW(LFWPairEntry.parse(text), in: people)
        } else {
            logger.warning("cannot read \(pairsFile.path); LFW pairs are sampled")
            listed = []
        }
        let listedMatched = listed.filter(\.isSameIdentity)
        let listedMismatched = listed.filter { !$0.isSameIdentity }
        let sampledPeople = VerificationPairs.sample(from: people, count: count, seed: seedValue)
        if listedMatched.count >= minimum && listedMismatched.count >= minimum {
            sets.append(("lfw", "pairs.txt, both people held out", listed))
        } else {
            logger.info(
                "pairs.txt has \(listedMatched.count) same-person and \(listedMismatched.count) different-person pairs "
                    + "whose people are all held out, and both kinds need at least \(minimum); sampling pairs among the held-out people")
            sets.append(("lfw", "sampled among held-out people, seed \(seedValue)", sampledPeople))
            if listedMatched.count >= minimum {
                // LFW's own same-person pairs still make a second measurement.
                let sampledMismatched = sampledPeople.filter { !$0.isSameIdentity }.prefix(listedMatched.count)
                sets.append(("lfw", "pairs.txt same-person pairs with sampled different-person pairs, seed \(seedValue)", listedMatched + sampledMismatched))
            }
        }
        sets.append(("dogfacenet", "sampled among held-out dogs, seed \(seedValue)", VerificationPairs.sample(from: dogs, count: count, seed: seedValue)))
        return sets
    }

    private func printReports(_ reports: [FeatureNetValidation]) {
        for report in reports {
            print("\(report.net):")
            for result in report.verification {
                print("  ROC-AUC \(String(format: "%.4f", result.auc))  \(result.collection): \(result.pairSource); \(result.matchedPairs) same / \(result.mismatchedPairs) different, mean cosine \(fixed(result.matchedMean)) / \(fixed(result.mismatchedMean))")
            }
            for result in report.ordering {
                print("  ordering \(result.holds ? "holds" : "FAILS")  \(result.collection) (\(result.subjects) subjects): own \(fixed(result.ownMean)) > same class \(fixed(result.sameClassMean)) > \(result.otherClass) \(fixed(result.otherClassMean)); \(String(format: "%.0f%%", result.fractionInOrder * 100)) of subjects in order")
            }
        }
    }
}
