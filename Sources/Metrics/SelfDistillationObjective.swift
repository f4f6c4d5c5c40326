import Foundation
import ImageIO
import TensorCore

/// The DINO-style objective: a student matches the sharpened, centred output
/// of an EMA teacher across multi-crop views, without labels ("Emerging
/// Properties in Self-Supervised Vision Transformers", arXiv 2104.14294).
///
/// Each image gives two global views at the net's input size and
/// `localViewCount` smaller local views. Only the global views pass through
/// the teacher. With prototype logits `s` (student) and `t` (teacher), the target
/// of view pair (i, j), i ≠ j, is `P_t = softmax((t_i − c) / τ_t)`, and the
/// loss is the cross-entropy `−Σ P_t · log softmax(s_j / τ_s)` averaged over
/// images and pairs. The centre `c` is an EMA of the teacher's mean logits,
/// and the teacher's weights an EMA of the student's.
///
/// Images are drawn by class, then uniformly among the images of the class:
/// subjects and identities are never read.
public final class SelfDistillationObjective: FeatureTrainingObjective {
    public let net: FeatureNet
    /// EMA copy of `net`, which receives no gradients.
    public let teacher: FeatureNet
    public let data: FeatureTrainingSet
    /// Student softmax temperature τ_s.
    public var studentTemperature: Float = 0.1
    /// Teacher softmax temperature τ_t, lower than τ_s so that the targets
    /// are sharper than the student's output.
    public var teacherTemperature: Float = 0.04
    /// Weight of the old centre in each update.
    public var centerMomentum: Float = 0.9
    /// Teacher EMA momentum at the start and end of the run, raised along a
    /// half cosine as in DINO.
    public var teacherMomentum: ClosedRange<Float> = 0.99...0.996
    /// Local views per image.
    public var localViewCount = 4
    /// Relative frequency of each class among the images.
    public var classWeights: [SubjectClass: Float] = [.face: 2, .dog: 2, .cat: 1]
    public var globalAugmentation: ViewAugmentation
    public var localAugmentation: ViewAugmentation

    /// Centre `c` of the teacher's logits, `[K]`.
    public private(set) var center: [Float]
    private var lastTeacherEntropy: Float = 0
    private var lastBatchEntropy: Float = 0

    public init(net: FeatureNet, data: FeatureTrainingSet, seed: UInt64 = 0) {
        let configuration = net.configuration
        precondition(configuration.objective == .selfDistillation, "SelfDistillationObjective: the net is not a self-distillation net")
        self.net = net
        self.data = data
        teacher = FeatureNet(configuration, seed: seed)
        for ((_, target), (_, source)) in zip(teacher.namedParameters(), net.namedParameters()) {
            target.data = source.data
            target.requiresGrad = false
        }
        center = [Float](repeating: 0, count: configuration.prototypeCount)
        globalAugmentation = ViewAugmentation(outputSize: configuration.imageSize, cropScale: 0.4...1)
        localAugmentation = ViewAugmentation(outputSize: max(configuration.imageSize / 2, 8), cropScale: 0.1...0.4)
    }

    public func loss(batchSize: Int, progress: Float, rng: inout SeededGenerator) -> Tensor {
        let images = (0..<batchSize).map { _ in
            data.randomImage(of: data.randomClass(weights: classWeights, rng: &rng), rng: &rng)
        }
        // Global views [2N, 3, S, S]: rows 0..<N are view 0, rows N..<2N view 1.
        let globals = Tensor.concat(
            [globalAugmentation.views(of: images, rng: &rng), globalAugmentation.views(of: images, rng: &rng)], axis: 0)

        // Teacher targets P_t [2N, K], without a tape.
        let teacherLogits = GradMode.withoutGradients { teacher.prototypeLogits(teacher.backboneFeatures(globals)) }
        let prototypes = center.count
        let teacherProbabilities = centredSoftmax(teacherLogits.data, rows: 2 * batchSize, width: prototypes)

        // Student log-probabilities [(2 + L)N, K]: global views first, then
        // local view 0 of every image, local view 1, and so on.
        var studentLogits = [net.prototypeLogits(net.backboneFeatures(globals))]
        if localViewCount > 0 {
            let locals = (0..<localViewCount).map { _ in localAugmentation.views(of: images, rng: &rng) }
            studentLogits.append(net.prototypeLogits(net.backboneFeatures(Tensor.concat(locals, axis: 0))))
        }
        let logProbabilities = logSoftmax(Tensor.concat(studentLogits, axis: 0) * (1 / studentTemperature))

        // Targets: global view 0 learns from teacher view 1 and the reverse.
        // Every local view learns from both teacher views.
        let width = batchSize * prototypes
        let viewCount = 2 + localViewCount
        var targets = [Float](repeating: 0, count: viewCount * width)
        for index in 0..<width {
            let fromView0 = teacherProbabilities[index]
            let fromView1 = teacherProbabilities[width + index]
            targets[index] = fromView1
            targets[width + index] = fromView0
            for view in 2..<viewCount { targets[view * width + index] = fromView0 + fromView1 }
        }
        let pairCount = Float(2 + 2 * localViewCount)
        let targetTensor = Tensor(shape: [viewCount * batchSize, prototypes], data: targets)
        let loss = -(targetTensor * logProbabilities).sum() * (1 / (Float(batchSize) * pairCount))

        updateCenter(teacherLogits.data, rows: 2 * batchSize)
        recordEntropies(teacherProbabilities, rows: 2 * batchSize, width: prototypes)
        return loss
    }

    /// Moves each teacher weight toward the student's:
    /// `θ_t = m θ_t + (1 − m) θ_s`, with `m` on the cosine schedule.
    public func didUpdate(progress: Float) {
        let start = teacherMomentum.lowerBound, end = teacherMomentum.upperBound
        let momentum = end - (end - start) * Float((Foundation.cos(Double.pi * Double(min(max(progress, 0), 1))) + 1) / 2)
        for ((_, target), (_, source)) in zip(teacher.namedParameters(), net.namedParameters()) {
            let studentValues = source.data
            target.data.withUnsafeMutableBufferPointer { teacherValues in
                for index in teacherValues.indices {
                    teacherValues[index] = momentum * teacherValues[index] + (1 - momentum) * studentValues[index]
                }
            }
        }
    }

    /// Mean entropy of a teacher target row, and entropy of the batch's mean
    /// target, both in nats. Both are ln K for a uniform output. The first
    /// falls to 0 when one prototype wins every row, and the second when
    /// every image gets the same target.
    public var diagnostics: [(name: String, value: Float)] {
        [("H_row", lastTeacherEntropy), ("H_mean", lastBatchEntropy)]
    }

    /// Computes `softmax((t − c) / τ_t)` of each row of `[rows, width]` logits.
    func centredSoftmax(_ logits: [Float], rows: Int, width: Int) -> [Float] {
        var probabilities = [Float](repeating: 0, count: rows * width)
        for row in 0..<rows {
            var maximum = -Float.infinity
            for k in 0..<width {
                let value = (logits[row * width + k] - center[k]) / teacherTemperature
                probabilities[row * width + k] = value
                maximum = max(maximum, value)
            }
            var total: Float = 0
            for k in 0..<width {
                let value = Foundation.exp(probabilities[row * width + k] - maximum)
                probabilities[row * width + k] = value
                total += value
            }
            for k in 0..<width { probabilities[row * width + k] /= total }
        }
        return probabilities
    }

    /// Updates the centre: `c = m c + (1 − m) mean_rows(t)`.
    func updateCenter(_ logits: [Float], rows: Int) {
        let width = center.count
        var mean = [Float](repeating: 0, count: width)
        for row in 0..<rows {
            for k in 0..<width { mean[k] += logits[row * width + k] }
        }
        for k in 0..<width {
            center[k] = centerMomentum * center[k] + (1 - centerMomentum) * mean[k] / Float(rows)
        }
    }

    private func recordEntropies(_ probabilities: [Float], rows: Int, width: Int) {
        var rowEntropy: Float = 0
        var mean = [Float](repeating: 0, count: width)
        for row in 0..<rows {
            for k in 0..<width {
                let p = probabilities[row * width + k]
                if p > 0 { rowEntropy -= p * Foundation.log(p) }
                mean[k] += p / Float(rows)
            }
        }
        lastTeacherEntropy = rowEntropy / Float(rows)
        lastBatchEntropy = mean.reduce(0) { $1 > 0 ? $0 - $1 * Foundation.log($1) : $0 }
    }
}

/// Computes the log-softmax over the last axis of `[rows, K]` from taped ops.
/// Subtracting the row maximum (a constant) first keeps `exp` from
/// overflowing and the sum at least 1, so the log stays finite.
func logSoftmax(_ logits: Tensor) -> Tensor {
    let width = logits.shape[logits.rank - 1]
    let rows = logits.count / max(width, 1)
    var maxima = [Float](repeating: 0, count: rows)
    for row in 0..<rows {
        maxima[row] = logits.data[(row * width)..<((row + 1) * width)].max() ?? 0
    }
    let shifted = logits - Tensor(shape: [rows, 1], data: maxima)
    return shifted - shifted.exp().sum(axes: [-1], keepDims: true).log()
}
