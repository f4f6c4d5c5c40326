import Foundation
import Personalization

/// The tables of `docs/EXPERIMENTS.md`, from per-subject results.
struct ExperimentReport {
    let results: [SubjectResult]
    let settings: ExperimentSettings
    let field: HypernetworkField
    let fieldMetadata: [String: String]
    let regressionMetadata: [String: String]?
    let command: String
    let machine: String
    let threads: Int

    /// Groups of results: each class, then all subjects.
    private var groups: [(name: String, results: [SubjectResult])] {
        let classes = ["face", "dog", "cat"].filter { label in results.contains { $0.classLabel == label } }
        var groups = classes.map { label in (name: label == "face" ? "faces" : label + "s", results: results.filter { $0.classLabel == label }) }
        if groups.count > 1 { groups.append((name: "all", results: results)) }
        return groups
    }

    private var methods: [String] {
        ExperimentMethod.order.filter { method in results.allSatisfy { $0.identity[method] != nil } }
    }

    func markdown() -> String {
        let configuration = field.configuration
        var lines: [String] = []
        lines += [
            "# Experiments: the field against per-subject training",
            "",
            "Written by `\(command)` on \(machine), \(threads == 1 ? "1 engine thread" : "\(threads) engine threads"). Rerun that command to regenerate this page; results of finished subjects are kept in the results folder, so an interrupted run continues.",
            "",
            "Subjects: \(countText()) from the held-out lists in `../shared/data/splits`, which no model saw in training. Each method is given the first \(settings.inputImages) photographs of a subject; up to \(settings.unseenImages) others are kept back for scoring.",
            "",
            "Models: field `\(settings.fieldSHA256.prefix(12))` (S = \(configuration.totalSteps), η = \(formatted(configuration.learningRate)), rank \(configuration.rank), \(configuration.slots.count) slots), denoiser `\(settings.denoiserSHA256.prefix(12))`\(settings.regressionSHA256.map { ", regression network `\($0.prefix(12))`" } ?? "; no regression network was given").",
            "",
            "Methods: *no adapter* is the base model with the identifier token; *field* is one forward pass of H(X, S); *DreamBooth-LoRA* is Adam at \(formatted(settings.dreamboothRate)) for S steps from θ_0; *regression* is the HyperDreamBooth-style network trained on precomputed DreamBooth-LoRA adapters; *SGD at η* is the plain gradient descent whose trajectory the field learns. Every per-subject run uses \(settings.draws) loss draws per step. Figures are means over subjects ± the standard error of the mean.",
            "",
        ]

        lines += [
            "## Trajectory fidelity",
            "",
            "The field's H(X, s) against θ_s of SGD at η (seed 1), and, as the yardstick, a second SGD run (seed 2) against the first: relative error ‖H − θ_s‖ / ‖θ_s − θ_0‖ (0 is perfect, 1 is as far as θ_0) and the cosine of the two updates from θ_0.",
            "",
            "| subjects | s | field rel. error | field cosine | SGD seed 2 rel. error | SGD seed 2 cosine |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for group in groups {
            for (position, state) in settings.states.enumerated() {
                let rows = group.results.map { $0.fidelity[position] }
                lines.append("| \(group.name) | \(state) | \(stat(rows.map(\.fieldRelativeError))) | \(stat(rows.map(\.fieldCosine))) | \(stat(rows.map(\.sgdRelativeError))) | \(stat(rows.map(\.sgdCosine))) |")
            }
        }

        lines += [
            "",
            "## Denoising loss on unseen photographs",
            "",
            "The subject's denoising loss (\"a [V] <class>\") on photographs no method was given, with the same \(settings.evaluationDraws) draws (timesteps \(ExperimentRunner.evaluationTimesteps.lowerBound) to \(ExperimentRunner.evaluationTimesteps.upperBound - 1), antithetic noise) for every method. Lower is better.",
            "",
            "| subjects | " + methods.joined(separator: " | ") + " |",
            "|---|" + methods.map { _ in "---:" }.joined(separator: "|") + "|",
        ]
        for group in groups {
            lines.append("| \(group.name) | " + methods.map { method in stat(group.results.map { $0.unseenLoss[method]! }, digits: 4) }.joined(separator: " | ") + " |")
        }

        lines += [
            "",
            "## Identity",
            "",
            "CLIP-I-style and DINO-style scores (`models/clip-i.md`, `models/dino.md`): mean cosine between \(settings.samples) samples (DDIM, \(settings.samplingSteps) steps, guidance \(formatted(settings.guidanceScale)), the same seed for every method) and the unseen photographs. Higher is better. \"Beats no adapter\" counts the subjects whose score is higher than with no adapter.",
            "",
            "| subjects | method | CLIP-I | DINO | CLIP-I beats no adapter | DINO beats no adapter |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for group in groups {
            for method in methods {
                let scores = group.results.map { $0.identity[method]! }
                let baseline = group.results.map { $0.identity[ExperimentMethod.none]! }
                let wins = { (key: KeyPath<IdentityScorer.Scores, Double>) -> String in
                    method == ExperimentMethod.none ? "" : "\(zip(scores, baseline).filter { $0[keyPath: key] > $1[keyPath: key] }.count) of \(scores.count)"
                }
                lines.append("| \(group.name) | \(method) | \(stat(scores.map(\.clipI))) | \(stat(scores.map(\.dino))) | \(wins(\.clipI)) | \(wins(\.dino)) |")
            }
        }

        lines += [
            "",
            "## Cost",
            "",
            "Time to personalize one subject on this machine (median over subjects; images already decoded and encoded, sampling not included):",
            "",
            "| method | seconds per subject |",
            "|---|---:|",
        ]
        for method in [ExperimentMethod.field, ExperimentMethod.regression, ExperimentMethod.dreambooth, ExperimentMethod.sgd] {
            let values = results.compactMap { $0.seconds[method] }
            guard !values.isEmpty else { continue }
            lines.append("| \(method) | \(String(format: values.median < 1 ? "%.3f" : "%.1f", values.median)) |")
        }
        lines += ["", "Training compute, in denoiser forward and backward passes over one latent (the unit both methods spend):", ""]
        lines.append("- Field: \(fieldCompute())")
        if let regressionMetadata {
            lines.append("- Regression: \(regressionCompute(regressionMetadata))")
        }
        lines += ["", "Per-subject sample grids (rows: photographs given, then each method) are written to the results folder.", ""]
        return lines.joined(separator: "\n")
    }

    private func countText() -> String {
        groups.filter { $0.name != "all" }.map { group in
            group.results.count == 1 ? "1 \(group.name == "faces" ? "face" : String(group.name.dropLast()))" : "\(group.results.count) \(group.name)"
        }.joined(separator: " and ")
    }

    private func fieldCompute() -> String {
        guard let steps = Int(fieldMetadata["step"] ?? ""), let batch = Int(fieldMetadata["batch_size"] ?? ""),
              let draws = Int(fieldMetadata["draws_per_subject"] ?? "") else {
            return "not recorded in the field file's metadata."
        }
        return "\(steps) steps × \(batch) subjects per step × \(draws) draws = \(grouped(steps * batch * draws)) passes, with no per-subject weights computed."
    }

    private func regressionCompute(_ metadata: [String: String]) -> String {
        guard let subjects = Int(metadata["precompute_subjects"] ?? ""), let steps = Int(metadata["precompute_steps"] ?? ""),
              let draws = Int(metadata["precompute_draws"] ?? "") else {
            return "not recorded in the regression file's metadata."
        }
        let seconds = metadata["precompute_seconds"].map { ", which took \($0) s here," } ?? ""
        return "precomputing \(subjects) DreamBooth-LoRA adapters (\(steps) steps × \(draws) draws each) = \(grouped(subjects * steps * draws)) passes\(seconds) before its own training, which adds no denoiser passes."
    }

    private func stat(_ values: [Double], digits: Int = 3) -> String {
        guard !values.isEmpty else { return "–" }
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return String(format: "%.\(digits)f", mean) }
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
        return String(format: "%.\(digits)f ± %.\(digits)f", mean, (variance / Double(values.count)).squareRoot())
    }

    private func formatted(_ value: Float) -> String {
        String(format: "%g", Double(value))
    }

    private func grouped(_ value: Int) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        return formatter.string(from: NSNumber(value: value)) ?? String(value)
    }
}

extension Array where Element == Double {
    var median: Double {
        let sorted = self.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }
}
