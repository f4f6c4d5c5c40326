import Foundation

/// A training run that a later run continued from (`train-features --init`).
struct EarlierFeatureRun: Codable, Equatable {
    let command: String
    let steps: Int
    let seconds: Double
    let cpuSeconds: Double?
    let manifestSHA256: String

    enum CodingKeys: String, CodingKey {
        case command
        case steps
        case seconds = "wall_seconds"
        case cpuSeconds = "cpu_seconds"
        case manifestSHA256 = "data_manifest_sha256"
    }
}

/// Facts about a feature net's training run, stored as strings in the weight
/// file's metadata and printed in its model card.
struct FeatureNetTrainingFacts: Equatable {
    var net: String
    /// The command line that trained the net.
    var command: String
    /// SHA-256 of the data manifest's text.
    var manifestSHA256: String
    /// Manifest path relative to the repository.
    var manifestPath: String
    var imageCount: Int
    var subjectCount: Int
    /// Steps taken, and steps the schedule was planned for.
    var steps: Int
    var plannedSteps: Int
    var batchSize: Int
    var learningRate: Float
    /// Wall-clock seconds of the training loop, without data loading.
    var seconds: Double
    /// Processor seconds the process spent in the training loop, or nil for
    /// files written before this was recorded.
    var cpuSeconds: Double?
    var threads: Int
    var machine: String
    /// Mean loss over the first and the last 50 steps.
    var initialLoss: Float
    var finalLoss: Float
    var parameterCount: Int
    /// Runs whose weights this run started from, oldest first; empty for a
    /// run from random weights.
    var earlierRuns: [EarlierFeatureRun] = []
    /// Images the whitening was fitted to, and the share of the feature
    /// maps' variance its components keep; nil for a net without whitening.
    var whiteningImageCount: Int? = nil
    var whiteningKeptVariance: Double? = nil

    /// This run as an earlier run of a continuation.
    var asEarlierRun: EarlierFeatureRun {
        EarlierFeatureRun(command: command, steps: steps, seconds: seconds, cpuSeconds: cpuSeconds, manifestSHA256: manifestSHA256)
    }

    /// Metadata entries of the weight file.
    var metadata: [String: String] {
        var entries = [
            "feature_net": net,
            "training_command": command,
            "data_manifest_sha256": manifestSHA256,
            "data_manifest": manifestPath,
            "image_count": String(imageCount),
            "subject_count": String(subjectCount),
            "step": String(steps),
            "planned_steps": String(plannedSteps),
            "batch_size": String(batchSize),
            "learning_rate": String(learningRate),
            "wall_seconds": String(format: "%.1f", seconds),
            "threads": String(threads),
            "machine": machine,
            "initial_loss": String(initialLoss),
            "final_loss": String(finalLoss),
            "parameter_count": String(parameterCount),
        ]
        if let cpuSeconds { entries["cpu_seconds"] = String(format: "%.1f", cpuSeconds) }
        if let whiteningImageCount { entries["whitening_images"] = String(whiteningImageCount) }
        if let whiteningKeptVariance { entries["whitening_kept_variance"] = String(format: "%.4f", whiteningKeptVariance) }
        if !earlierRuns.isEmpty, let data = try? JSONEncoder().encode(earlierRuns) {
            entries["earlier_runs"] = String(decoding: data, as: UTF8.self)
        }
        return entries
    }

    /// Reads the facts back from a weight file's metadata. Returns nil when
    /// an entry is missing, as in files from other commands.
    init?(metadata: [String: String]) {
        guard let net = metadata["feature_net"], let command = metadata["training_command"],
              let manifestSHA256 = metadata["data_manifest_sha256"], let manifestPath = metadata["data_manifest"],
              let imageCount = metadata["image_count"].flatMap({ Int($0) }),
              let subjectCount = metadata["subject_count"].flatMap({ Int($0) }),
              let steps = metadata["step"].flatMap({ Int($0) }),
              let plannedSteps = metadata["planned_steps"].flatMap({ Int($0) }),
              let batchSize = metadata["batch_size"].flatMap({ Int($0) }),
              let learningRate = metadata["learning_rate"].flatMap({ Float($0) }),
              let seconds = metadata["wall_seconds"].flatMap({ Double($0) }),
              let threads = metadata["threads"].flatMap({ Int($0) }),
              let machine = metadata["machine"],
              let initialLoss = metadata["initial_loss"].flatMap({ Float($0) }),
              let finalLoss = metadata["final_loss"].flatMap({ Float($0) }),
              let parameterCount = metadata["parameter_count"].flatMap({ Int($0) })
        else { return nil }
        self.init(
            net: net, command: command, manifestSHA256: manifestSHA256, manifestPath: manifestPath,
            imageCount: imageCount, subjectCount: subjectCount, steps: steps, plannedSteps: plannedSteps,
            batchSize: batchSize, learningRate: learningRate, seconds: seconds,
            cpuSeconds: metadata["cpu_seconds"].flatMap { Double($0) }, threads: threads, machine: machine,
            initialLoss: initialLoss, finalLoss: finalLoss, parameterCount: parameterCount)
        whiteningImageCount = metadata["whitening_images"].flatMap { Int($0) }
        whiteningKeptVariance = metadata["whitening_kept_variance"].flatMap { Double($0) }
        if let text = metadata["earlier_runs"] {
            guard let runs = try? JSONDecoder().decode([EarlierFeatureRun].self, from: Data(text.utf8)) else { return nil }
            earlierRuns = runs
        }
    }

    init(
        net: String, command: String, manifestSHA256: String, manifestPath: String, imageCount: Int, subjectCount: Int,
        steps: Int, plannedSteps: Int, batchSize: Int, learningRate: Float, seconds: Double, cpuSeconds: Double?,
        threads: Int, machine: String, initialLoss: Float, finalLoss: Float, parameterCount: Int,
        earlierRuns: [EarlierFeatureRun] = []
    ) {
        self.net = net
        self.command = command
        self.manifestSHA256 = manifestSHA256
        self.manifestPath = manifestPath
        self.imageCount = imageCount
        self.subjectCount = subjectCount
        self.steps = steps
        self.plannedSteps = plannedSteps
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.seconds = seconds
        self.cpuSeconds = cpuSeconds
        self.threads = threads
        self.machine = machine
        self.initialLoss = initialLoss
        self.finalLoss = finalLoss
        self.parameterCount = parameterCount
        self.earlierRuns = earlierRuns
    }
}

/// Describes the machine by the processor model in /proc/cpuinfo and the
/// active processor count, such as "AMD EPYC, 2 processors".
func machineDescription() -> String {
    let model = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
        .split(separator: "\n").first { $0.hasPrefix("model name") }?
        .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown processor"
    return "\(model), \(ProcessInfo.processInfo.activeProcessorCount) processors"
}
