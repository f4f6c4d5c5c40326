import Diffusion
import Foundation
import TensorCore

/// Gradient-supervised training of the hypernetwork field. No per-subject
/// weights are computed or stored at any point.
///
/// Per subject in a step, with `s` uniform in `[0, S−1]`:
///
/// 1. `θ̂ = H(X, s)`;
/// 2. `g = ∇_θ L(θ̂; X)` on fresh draws (stratified timesteps, antithetic
///    noise), with `θ̂` a constant (first order);
/// 3. loss `‖(H(X, s+1) − H(X, s)) + η·g‖² / (η·γ)²`, averaged over
///    adapter elements, with `γ` the field's gradient scale, so that a field
///    that predicts no step scores about 1.
///
/// With `StepTarget.bothStates` gradients reach the field through both
/// `H(X, s+1)` and `H(X, s)`; with `.nextStateOnly`, only through
/// `H(X, s+1)`. The denoiser is frozen.
public final class FieldTrainingTask: TrainingTask {
    public let field: HypernetworkField
    public let denoiser: Denoiser
    public let schedule: NoiseSchedule
    public let subjects: [SubjectLatents]
    /// Loss draws per subject for each gradient estimate.
    public var drawsPerSubject: Int
    /// Most images of a subject given to the field as `X` in one step.
    public var maxInputImages: Int
    /// States of the field that the step loss trains.
    public var stepTarget = StepTarget.bothStates
    public var timestepRange: Range<Int>
    public var modelMetadata: [String: String]
    /// `‖target‖²` of the last step, for the relative loss in logs.
    public private(set) var lastTargetSquaredNorm: Float = 0
    /// Subjects grouped by class, for drawing by class then subject.
    private let subjectsOfClass: [[Int]]

    public init(
        field: HypernetworkField, denoiser: Denoiser, schedule: NoiseSchedule, subjects: [SubjectLatents],
        drawsPerSubject: Int = 16, maxInputImages: Int = 4, timestepRange: Range<Int>? = nil,
        metadata: [String: String] = [:]
    ) {
        precondition(!subjects.isEmpty, "FieldTrainingTask: no training subjects")
        precondition(
            denoiser.trainableParameters().isEmpty,
            "FieldTrainingTask: the denoiser must be frozen (setTrainable(false)) so that only adapters get gradients")
        self.field = field
        self.denoiser = denoiser
        self.schedule = schedule
        self.subjects = subjects
        self.drawsPerSubject = drawsPerSubject
        self.maxInputImages = maxInputImages
        self.timestepRange = timestepRange ?? 0..<schedule.timesteps
        modelMetadata = metadata
        let classes = Set(subjects.map { $0.classIndex }).sorted()
        subjectsOfClass = classes.map { classIndex in subjects.indices.filter { subjects[$0].classIndex == classIndex } }
    }

    public var model: Module { field }
    public var modelKind: String { "field" }
    public var configurationJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(field.configuration)) ?? Data(), as: UTF8.self)
    }

    /// Draws a subject by class, then subject.
    func drawSubject(rng: inout SeededGenerator) -> SubjectLatents {
        let group = subjectsOfClass[rng.integer(in: 0..<subjectsOfClass.count)]
        return subjects[group[rng.integer(in: 0..<group.count)]]
    }

    /// Picks the field's input `X`: up to `maxInputImages` of the subject's
    /// images, in random order.
    func inputImages(_ subject: SubjectLatents, rng: inout SeededGenerator) -> Tensor {
        var indices = Array(0..<subject.imageCount)
        rng.shuffle(&indices)
        return subject.images(Array(indices.prefix(maxInputImages)))
    }

    public func loss(step: Int, batchSize: Int, rng: inout SeededGenerator) -> Tensor {
        let eta = field.configuration.learningRate
        let totalSteps = field.configuration.totalSteps
        var total: Tensor? = nil
        var targetSquaredNorm: Float = 0
        for _ in 0..<batchSize {
            let subject = drawSubject(rng: &rng)
            let state = Double(rng.integer(in: 0..<totalSteps))
            let features = field.subjectFeatures(inputImages(subject, rng: &rng))
            var here = field.adapter(features: features, state: state)
            let next = field.adapter(features: features, state: state + 1)
            if stepTarget == .nextStateOnly { here = here.detached() }

            // The gradient step at the field's own prediction, a constant.
            let (latents, draws) = subjectLossBatch(subject, count: drawsPerSubject, timestepRange: timestepRange, rng: &rng)
            let (_, gradient) = adapterGradient(
                denoiser: denoiser, schedule: schedule, subject: subject, adapter: here, latents: latents, draws: draws)

            var subjectLoss = stepLoss(
                here: here, next: next, gradient: gradient, learningRate: eta, gradientScale: field.configuration.gradientScale)
            if stepTarget == .nextStateOnly {
                // H(X, s+1) = θ_0 + (s+1)·η·γ·Δ̂, so this is the squared error of
                // Δ̂(X, s+1) itself, in the same units at every state.
                subjectLoss = subjectLoss * (1 / Float((state + 1) * (state + 1)))
            }
            targetSquaredNorm += AdapterMath.flatten(gradient).reduce(0) { $0 + $1 * $1 }
            total = total.map { $0 + subjectLoss } ?? subjectLoss
        }
        lastTargetSquaredNorm = targetSquaredNorm / Float(batchSize)
        return total! * (1 / Float(batchSize))
    }
}

/// Choice of the field's states that the step loss trains.
public enum StepTarget: String, CaseIterable, Sendable {
    /// Gradients flow through both `H(X, s)` and `H(X, s+1)`.
    case bothStates = "both"
    /// `H(X, s)` is a constant target and the loss is divided by `(s+1)²`,
    /// so each step regresses `Δ̂(X, s+1)` onto the current state plus one
    /// gradient step, with every state weighted alike.
    case nextStateOnly = "next"
}

/// `‖(next − here) + η·g‖² / (η·γ)²`, averaged over every adapter element:
/// zero exactly when the field's step equals the gradient-descent step.
public func stepLoss(
    here: Adapter, next: Adapter, gradient: Adapter, learningRate eta: Float, gradientScale gamma: Float = 1
) -> Tensor {
    var sum: Tensor? = nil
    var elements = 0
    for name in here.slotNames {
        guard let h = here.slots[name], let n = next.slots[name], let g = gradient.slots[name] else {
            preconditionFailure("stepLoss: slot \(name) is missing from the next state or the gradient")
        }
        for (x, y, target) in [(h.a, n.a, g.a), (h.b, n.b, g.b)] {
            // ((next − here)/η + g) / γ
            let residual = ((y - x) * (1 / eta) + target) * (1 / gamma)
            let squares = residual.square().sum()
            sum = sum.map { $0 + squares } ?? squares
            elements += x.count
        }
    }
    return sum! * (1 / Float(max(elements, 1)))
}

/// Cosines that show how well the field's steps point the way gradient
/// descent goes (see `fieldStepAgreement`).
public struct FieldStepAgreement: Sendable {
    /// Mean cosine between each subject's field step and its own gradient step.
    public var withOwnGradient: Double
    /// Mean cosine between each field step and the mean gradient step of the
    /// subjects at the same state.
    public var withMeanGradient: Double
    /// Mean cosine between each subject's gradient step and the mean of the
    /// other subjects' at the same state: how much of the direction subjects
    /// share, so how far a field that ignored the images could get.
    public var sharedByGradients: Double
}

/// Measures how well the field's steps point the way gradient descent goes:
/// cosines between `H(X, s+1) − H(X, s)` and `−η·g`, with `g` a low-noise gradient
/// (many draws averaged) at `H(X, s)`, over the given subjects and states.
/// The loss value alone shows little, because most of a one-batch gradient
/// is draw noise.
public func fieldStepAgreement(
    field: HypernetworkField, denoiser: Denoiser, schedule: NoiseSchedule, subjects: [SubjectLatents],
    states: [Int], draws: Int, seed: UInt64 = 7
) -> FieldStepAgreement {
    var rng = SeededGenerator(seed: seed)
    // steps[state][subject] and descents[state][subject], flattened.
    var steps = [[[Float]]](repeating: [], count: states.count)
    var descents = [[[Float]]](repeating: [], count: states.count)
    for subject in subjects {
        let features = GradMode.withoutGradients { field.subjectFeatures(subject.latents) }
        for (index, state) in states.enumerated() {
            let (here, next) = GradMode.withoutGradients {
                (field.adapter(features: features, state: Double(state)), field.adapter(features: features, state: Double(state + 1)))
            }
            let (latents, drawSet) = subjectLossBatch(subject, count: draws, timestepRange: 0..<schedule.timesteps, rng: &rng)
            let (_, gradient) = adapterGradient(
                denoiser: denoiser, schedule: schedule, subject: subject, adapter: here, latents: latents, draws: drawSet)
            steps[index].append(AdapterMath.subtract(AdapterMath.flatten(next), AdapterMath.flatten(here)))
            descents[index].append(AdapterMath.flatten(gradient).map { -$0 })
        }
    }

    var own = 0.0, withMean = 0.0, shared = 0.0
    var count = 0, sharedCount = 0
    for index in states.indices {
        let total = descents[index].reduce([Float](repeating: 0, count: descents[index].first?.count ?? 0)) {
            zip($0, $1).map { $0 + $1 }
        }
        for (step, descent) in zip(steps[index], descents[index]) {
            own += AdapterMath.cosine(step, descent)
            withMean += AdapterMath.cosine(step, total)
            count += 1
            if descents[index].count > 1 {
                shared += AdapterMath.cosine(descent, AdapterMath.subtract(total, descent))
                sharedCount += 1
            }
        }
    }
    return FieldStepAgreement(
        withOwnGradient: own / Double(max(count, 1)), withMeanGradient: withMean / Double(max(count, 1)),
        sharedByGradients: shared / Double(max(sharedCount, 1)))
}

/// Measures the agreement that draw noise allows: the mean cosine between two
/// independent `draws`-draw gradients at the field's adapter, over the given
/// subjects and states. A field whose step equalled the mean gradient would score about
/// the square root of this in `fieldStepAgreement`, because that compares it
/// with one noisy estimate.
public func gradientEstimateCosine(
    field: HypernetworkField, denoiser: Denoiser, schedule: NoiseSchedule, subjects: [SubjectLatents],
    states: [Int], draws: Int, seed: UInt64 = 13
) -> Double {
    var rng = SeededGenerator(seed: seed)
    var total = 0.0
    var count = 0
    for subject in subjects {
        let features = GradMode.withoutGradients { field.subjectFeatures(subject.latents) }
        for state in states {
            let here = GradMode.withoutGradients { field.adapter(features: features, state: Double(state)) }
            var estimates: [[Float]] = []
            for _ in 0..<2 {
                let (latents, drawSet) = subjectLossBatch(
                    subject, count: draws, timestepRange: 0..<schedule.timesteps, rng: &rng)
                let (_, gradient) = adapterGradient(
                    denoiser: denoiser, schedule: schedule, subject: subject, adapter: here, latents: latents,
                    draws: drawSet)
                estimates.append(AdapterMath.flatten(gradient))
            }
            total += AdapterMath.cosine(estimates[0], estimates[1])
            count += 1
        }
    }
    return total / Double(max(count, 1))
}

/// Root mean square of one adapter element of the loss gradient at
/// `initial`, over `subjects` with `draws` draws each: the field's `γ`.
public func measureGradientScale(
    denoiser: Denoiser, schedule: NoiseSchedule, subjects: [SubjectLatents], initial: Adapter, draws: Int,
    seed: UInt64 = 11
) -> Float {
    var rng = SeededGenerator(seed: seed)
    var squares = 0.0
    var count = 0
    for subject in subjects {
        let (latents, drawSet) = subjectLossBatch(subject, count: draws, timestepRange: 0..<schedule.timesteps, rng: &rng)
        let (_, gradient) = adapterGradient(
            denoiser: denoiser, schedule: schedule, subject: subject, adapter: initial, latents: latents, draws: drawSet)
        for value in AdapterMath.flatten(gradient) {
            squares += Double(value) * Double(value)
            count += 1
        }
    }
    return Float((squares / Double(max(count, 1))).squareRoot())
}
