import TensorCore

/// Equal-shaped samples (images or latents) in memory with a class and a
/// subject per sample, drawn for training by class, then subject, then
/// sample, so that a subject with hundreds of photos weighs as much as one
/// with a single photo, and each class as much as any other.
public struct LabeledSamples {
    /// Shape of one sample, e.g. `[3, 64, 64]`.
    public let sampleShape: [Int]
    /// All samples back to back.
    public private(set) var values: [Float]
    public private(set) var classes: [Int] = []
    public private(set) var subjects: [Int] = []
    /// Sample indices per subject, and subjects per class.
    private var samplesOfSubject: [Int: [Int]] = [:]
    private var subjectsOfClass: [Int: [Int]] = [:]

    public init(sampleShape: [Int]) {
        self.sampleShape = sampleShape
        values = []
    }

    public var count: Int { classes.count }
    public var sampleSize: Int { shapeElementCount(sampleShape) }
    public var classIndices: [Int] { subjectsOfClass.keys.sorted() }

    /// Appends one sample of `sampleShape`.
    public mutating func append(_ sample: [Float], classIndex: Int, subject: Int) {
        precondition(sample.count == sampleSize, "LabeledSamples: sample of \(sample.count) values, expected \(sampleSize)")
        let index = classes.count
        values += sample
        classes.append(classIndex)
        subjects.append(subject)
        if samplesOfSubject[subject] == nil {
            samplesOfSubject[subject] = []
            subjectsOfClass[classIndex, default: []].append(subject)
        }
        samplesOfSubject[subject]!.append(index)
    }

    /// Returns the sample at `index`.
    public func sample(_ index: Int) -> [Float] {
        Array(values[(index * sampleSize)..<((index + 1) * sampleSize)])
    }

    /// Draws one index by class, then subject, then sample.
    public func drawIndex(rng: inout SeededGenerator) -> Int {
        let classKeys = classIndices
        precondition(!classKeys.isEmpty, "LabeledSamples: cannot draw from an empty set")
        let classIndex = classKeys[rng.integer(in: 0..<classKeys.count)]
        let subjectList = subjectsOfClass[classIndex]!
        let subject = subjectList[rng.integer(in: 0..<subjectList.count)]
        let members = samplesOfSubject[subject]!
        return members[rng.integer(in: 0..<members.count)]
    }

    /// Draws a batch `[B, ...sampleShape]` and the classes of its samples. With
    /// `flip`, each image-like sample is mirrored left to right with
    /// probability 1/2.
    public func drawBatch(_ size: Int, flip: Bool, rng: inout SeededGenerator) -> (batch: Tensor, classes: [Int]) {
        var data = [Float](repeating: 0, count: size * sampleSize)
        var batchClasses: [Int] = []
        let width = sampleShape.last ?? 1
        for row in 0..<size {
            let index = drawIndex(rng: &rng)
            batchClasses.append(classes[index])
            let mirrored = flip && rng.uniform() < 0.5
            let source = index * sampleSize
            let destination = row * sampleSize
            if mirrored {
                for line in 0..<(sampleSize / width) {
                    for x in 0..<width {
                        data[destination + line * width + x] = values[source + line * width + (width - 1 - x)]
                    }
                }
            } else {
                for j in 0..<sampleSize { data[destination + j] = values[source + j] }
            }
        }
        return (Tensor(shape: [size] + sampleShape, data: data), batchClasses)
    }
}
