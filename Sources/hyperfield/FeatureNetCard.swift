import Foundation
import Metrics

/// The measured quality of a feature net, as `validate-features` reports it.
struct FeatureNetValidation: Encodable {
    let net: String
    let command: String
    let seed: Int
    let verification: [VerificationResult]
    let ordering: [OrderingResult]
}

/// The model card of a feature net, in Markdown: what the net is, how it was
/// trained (from the weight file's metadata) and, once `validate-features`
/// has run, its measured quality.
struct FeatureNetCard {
    let configuration: FeatureNetConfiguration
    let facts: FeatureNetTrainingFacts
    let modelPath: String
    let validation: FeatureNetValidation?

    var markdown: String {
        var lines: [String] = []
        let scoreName = configuration.objective.scoreName
        lines.append("# \(scoreName)-style feature net (`\(modelPath)`)")
        lines.append("")
        lines.append(summary)
        lines.append("")

        lines.append("## Training")
        lines.append("")
        if facts.earlierRuns.isEmpty {
            lines.append("- Command: `\(facts.command)`")
        } else {
            lines.append("- Commands, in order (each later run starts from the weights of the one before):")
            for run in facts.earlierRuns {
                var line = "  - `\(run.command)`: \(run.steps) steps, " + String(format: "%.0f s wall time", run.seconds)
                if let cpuSeconds = run.cpuSeconds { line += String(format: ", %.0f s processor time", cpuSeconds) }
                lines.append(line)
            }
            lines.append("  - `\(facts.command)`: this run, below")
            if (facts.earlierRuns.map(\.command) + [facts.command]).contains(where: { $0.contains("--output ") }) {
                lines.append("  - A run with `--output` wrote elsewhere, and its file was copied to `\(modelPath)` before the next run or validation.")
            }
        }
        lines.append("- Data: \(facts.imageCount) images of \(facts.subjectCount) subjects, the training split of LFW, ORL, DogFaceNet and the cat faces at 64x64; held-out LFW people and DogFaceNet dogs excluded. Manifest `\(facts.manifestPath)`, sha256 `\(facts.manifestSHA256)`.")
        var stepsText = facts.steps == facts.plannedSteps ? "\(facts.steps)" : "\(facts.steps) of \(facts.plannedSteps) planned (time limit)"
        if !facts.earlierRuns.isEmpty {
            let earlier = facts.earlierRuns.reduce(0) { $0 + $1.steps }
            stepsText += " in this run, \(earlier + facts.steps) in all"
        }
        lines.append("- Steps: \(stepsText), batch \(facts.batchSize) \(configuration.objective == .contrastive ? "pairs" : "images"), peak learning rate \(facts.learningRate).")
        lines.append(String(format: "- Loss: %.4f over the first 50 steps, %.4f over the last 50.", facts.initialLoss, facts.finalLoss))
        var time = String(format: "- Wall time: %.0f s (%.1f min) of training, data loading not included", facts.seconds, facts.seconds / 60)
        if let cpuSeconds = facts.cpuSeconds {
            time += String(format: "; processor time %.0f s (%.1f min), lower because other jobs shared the cores", cpuSeconds, cpuSeconds / 60)
        }
        lines.append(time + ".")
        if !facts.earlierRuns.isEmpty {
            let runs = facts.earlierRuns
            var total = String(format: "- All runs together: %.0f s (%.1f min) wall time", runs.reduce(facts.seconds) { $0 + $1.seconds }, runs.reduce(facts.seconds) { $0 + $1.seconds } / 60)
            let processorTimes = runs.map(\.cpuSeconds) + [facts.cpuSeconds]
            if processorTimes.allSatisfy({ $0 != nil }) {
                let sum = processorTimes.reduce(0.0) { $0 + ($1 ?? 0) }
                total += String(format: ", %.0f s (%.1f min) processor time", sum, sum / 60)
            }
            lines.append(total + ".")
        }
        lines.append("- Machine: \(facts.machine), shared with other jobs; \(facts.threads) engine thread\(facts.threads == 1 ? "" : "s").")
        lines.append("")

        lines.append("## Measured quality")
        lines.append("")
        if let validation {
            lines += qualityLines(validation)
        } else {
            lines.append("Not measured yet. Run `hyperfield validate-features` to write the numbers here.")
        }
        lines.append("")

        lines.append("## Limits")
        lines.append("")
        let belowBar = validation?.verification.filter { $0.auc < 0.75 }.map { "\($0.collection), \($0.pairSource)" } ?? []
        if !belowBar.isEmpty {
            lines.append("- ROC-AUC is below 0.75 on these pairs, so scores from this net separate their identities only weakly: \(belowBar.joined(separator: "; ")).")
        }
        lines.append("- Validated only on aligned face and dog-face crops at 64x64. Scores of other subjects, framings or sizes are unmeasured.")
        lines.append("- Cat faces carry no identity labels, so cat identity is not validated. The cat faces serve only as the other class, and the training split includes them.")
        if configuration.objective == .contrastive {
            // NOTE: true of the contrastive defaults in this version, which
            // were chosen after validating earlier runs. Revisit if they change.
            lines.append("- The training recipe (pooling, batch composition, run length) was settled over several runs judged on these same held-out identities, so the held-out numbers are somewhat optimistic.")
        }
        if configuration.embeddingSource == .whitened {
            // NOTE: true of the whitening defaults in this version. Revisit
            // if they change.
            lines.append("- The whitened embedding and its settings (the map rather than pooled features, the number of components, the regularization) were chosen by comparing a few variants on these same held-out identities, so the held-out numbers are somewhat optimistic. The whitening itself reads only training images, without labels.")
            lines.append("- Whitened cosines are small: about 0.1 to 0.2 between images of one identity and near 0 between others. Compare them with each other, not with the cosines of unwhitened features.")
        }
        lines.append("- Absolute scores are not comparable with those of CLIP or DINO ViT-S/16 in published work; compare methods with the same net.")
        lines.append("")
        return lines.joined(separator: "\n")
    }

    private var summary: String {
        let mapSize = configuration.finalMapSize
        let poolingText = configuration.pooling == .average
            ? "global average pooling"
            : "learned spatial pooling (one weight per channel and position of the \(mapSize)x\(mapSize) last map)"
        let channels = configuration.stageChannels.map(String.init).joined(separator: "-")
        let architecture = "A convolutional encoder of \(configuration.stageChannels.count) stages (\(channels) channels, each a stride-2 3x3 convolution with group norm and SiLU plus \(configuration.blocksPerStage) residual convolution), \(poolingText) and a projection head to \(configuration.embeddingSize) dimensions; \(facts.parameterCount) parameters. Input: \(configuration.imageSize)x\(configuration.imageSize) RGB in [-1, 1]."
        let embedding: String
        switch configuration.embeddingSource {
        case .head: embedding = "Scores compare the L2-normalized head output (\(configuration.embeddingWidth) dimensions)."
        case .backbone: embedding = "Scores compare the L2-normalized pooled backbone features (\(configuration.embeddingWidth) dimensions); the head and the \(configuration.prototypeCount) prototypes serve only training."
        case .whitened:
            let lastChannels = configuration.stageChannels.last ?? 0
            let regularization = configuration.whitening.map { String(describing: $0.regularization) } ?? "?"
            var fitted = "fitted after training"
            if let count = facts.whiteningImageCount, let kept = facts.whiteningKeptVariance {
                fitted = "fitted after training to the \(count) training images without their labels; the kept components hold \(String(format: "%.1f", 100 * kept)) % of the variance"
            }
            embedding = "Scores compare the last feature map (\(lastChannels) channels at \(mapSize)x\(mapSize), \(configuration.finalMapValues) values), centred and whitened onto its \(configuration.embeddingWidth) leading principal components, each divided by the square root of its eigenvalue plus \(regularization) of the largest, then L2-normalized. The whitening is \(fitted). The head and the \(configuration.prototypeCount) prototypes serve only training."
        }
        switch configuration.objective {
        case .contrastive:
            return "Plays the role of CLIP in DreamBooth's CLIP-I score: the mean cosine similarity between embeddings of generated and real images of a subject. Trained with InfoNCE (temperature 0.1); a positive pair is two augmented views of one image, or two images of one identity where labels exist (LFW, ORL, DogFaceNet). \(architecture) \(embedding)"
        case .selfDistillation:
            return "Plays the role of DINO ViT-S/16 in DreamBooth's DINO score. Trained without labels by self-distillation: an EMA teacher (momentum 0.99 to 0.996), teacher output centred (momentum 0.9) and sharpened (temperature 0.04 against the student's 0.1), two global 64x64 views and four local 32x32 views per image. \(architecture) \(embedding)"
        }
    }

    private func qualityLines(_ validation: FeatureNetValidation) -> [String] {
        var lines: [String] = []
        lines.append("Measured by `\(validation.command)` on identities that no training split contains.")
        lines.append("")
        lines.append("Verification: ROC-AUC of the cosine for same-identity against different-identity pairs (0.5 is chance, and these nets are meant to reach at least 0.75).")
        lines.append("")
        lines.append("| identities | pairs | same / different | mean cosine same | mean cosine different | ROC-AUC |")
        lines.append("|---|---|---:|---:|---:|---:|")
        for result in validation.verification {
            lines.append(
                "| \(result.collection) | \(result.pairSource) | \(result.matchedPairs) / \(result.mismatchedPairs) | "
                    + "\(fixed(result.matchedMean)) | \(fixed(result.mismatchedMean)) | **\(String(format: "%.4f", result.auc))** |")
        }
        lines.append("")
        lines.append("Ordering: per held-out subject, the mean cosine to its own other images, to the other held-out subjects of its class, and to another class; means over subjects.")
        lines.append("")
        lines.append("| subjects | other class | own | same class | other class | order holds | subjects in order |")
        lines.append("|---|---|---:|---:|---:|---|---:|")
        for result in validation.ordering {
            lines.append(
                "| \(result.collection) (\(result.subjects)) | \(result.otherClass) | \(fixed(result.ownMean)) | "
                    + "\(fixed(result.sameClassMean)) | \(fixed(result.otherClassMean)) | \(result.holds ? "yes" : "no") | "
                    + String(format: "%.0f%%", result.fractionInOrder * 100) + " |")
        }
        return lines
    }
}

/// `value` with three decimals.
func fixed(_ value: Double) -> String {
    String(format: "%.3f", value)
}
