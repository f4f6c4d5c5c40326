import ImageIO
import TensorCore

/// Two images of a `SubjectDataset` and whether they show one identity.
public struct VerificationPair: Hashable, Sendable {
    public let first: SubjectDataset.ImageReference
    public let second: SubjectDataset.ImageReference

    public var isSameIdentity: Bool { first.subject == second.subject }

    public init(_ first: SubjectDataset.ImageReference, _ second: SubjectDataset.ImageReference) {
        self.first = first
        self.second = second
    }
}

/// One line of LFW's `pairs.txt`: two people and the 1-based numbers of
/// their images (`<Person>_<NNNN>.jpg`). A matched pair names one person.
public struct LFWPairEntry: Equatable, Sendable {
    public let firstName: String
    public let firstNumber: Int
    public let secondName: String
    public let secondNumber: Int

    public var isMatched: Bool { firstName == secondName }

    /// Parses `pairs.txt`: a header line of fold and pair counts, then
    /// matched lines `name n1 n2` and mismatched lines `name1 n1 name2 n2`,
    /// separated by tabs or spaces. Lines of another shape are skipped.
    public static func parse(_ text: String) -> [LFWPairEntry] {
        var entries: [LFWPairEntry] = []
        for line in text.split(whereSeparator: \.isNewline).dropFirst() {
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).map(String.init)
            if fields.count == 3, let first = Int(fields[1]), let second = Int(fields[2]) {
                entries.append(LFWPairEntry(firstName: fields[0], firstNumber: first, secondName: fields[0], secondNumber: second))
            } else if fields.count == 4, let first = Int(fields[1]), let second = Int(fields[3]) {
                entries.append(LFWPairEntry(firstName: fields[0], firstNumber: first, secondName: fields[2], secondNumber: second))
            }
        }
        return entries
    }
}

/// Verification pairs over the subjects of a dataset.
public enum VerificationPairs {
    /// Returns the LFW pairs whose people are all subjects of `dataset`, as
    /// image references. Subject ids are matched by the name after "lfw/", images
    /// by file name. Pairs whose image is not in the dataset are left out.
    public static func fromLFW(_ entries: [LFWPairEntry], in dataset: SubjectDataset) -> [VerificationPair] {
        var subjectByName: [String: Int] = [:]
        for (index, subject) in dataset.subjects.enumerated() {
            subjectByName[String(subject.id.split(separator: "/").last ?? "")] = index
        }
        func reference(_ name: String, _ number: Int) -> SubjectDataset.ImageReference? {
            guard let subject = subjectByName[name] else { return nil }
            let fileName = name + "_" + String(repeating: "0", count: max(0, 4 - String(number).count)) + String(number) + ".jpg"
            guard let image = dataset.subjects[subject].files.firstIndex(where: { $0.lastPathComponent == fileName }) else {
                return nil
            }
            return .init(subject: subject, image: image)
        }
        return entries.compactMap { entry in
            guard let first = reference(entry.firstName, entry.firstNumber),
                  let second = reference(entry.secondName, entry.secondNumber) else { return nil }
            return VerificationPair(first, second)
        }
    }

    /// Draws `count` distinct same-identity pairs and `count` distinct
    /// different-identity pairs from `dataset` with a fixed seed.
    ///
    /// A same-identity pair picks a subject uniformly among those with two or
    /// more images, then two different images. A different-identity pair
    /// picks two different subjects uniformly, then one image of each. Drawing
    /// by subject keeps identities with many photos from dominating. Fewer
    /// pairs come back when the dataset has fewer distinct pairs.
    public static func sample(from dataset: SubjectDataset, count: Int, seed: UInt64) -> [VerificationPair] {
        var rng = SeededGenerator(seed: seed)
        let multiImage = dataset.subjects.indices.filter { dataset.subjects[$0].images.count >= 2 }
        let subjectCount = dataset.subjects.count

        var matched = Set<VerificationPair>()
        var attempts = 0
        while matched.count < count && !multiImage.isEmpty && attempts < 50 * count {
            attempts += 1
            let subject = multiImage[rng.integer(in: 0..<multiImage.count)]
            let images = dataset.randomImages(of: subject, count: 2, using: &rng)
            matched.insert(canonical(images[0], images[1]))
        }

        var mismatched = Set<VerificationPair>()
        attempts = 0
        while mismatched.count < count && subjectCount >= 2 && attempts < 50 * count {
            attempts += 1
            let first = rng.integer(in: 0..<subjectCount)
            var second = rng.integer(in: 0..<(subjectCount - 1))
            if second >= first { second += 1 }
            let firstImage = rng.integer(in: 0..<dataset.subjects[first].images.count)
            let secondImage = rng.integer(in: 0..<dataset.subjects[second].images.count)
            mismatched.insert(canonical(.init(subject: first, image: firstImage), .init(subject: second, image: secondImage)))
        }

        // Sets have no stable order, so sort for reproducible output.
        let order = { (a: VerificationPair, b: VerificationPair) -> Bool in
            (a.first.subject, a.first.image, a.second.subject, a.second.image)
                < (b.first.subject, b.first.image, b.second.subject, b.second.image)
        }
        return matched.sorted(by: order) + mismatched.sorted(by: order)
    }

    /// Returns the pair with its two images in a fixed order, so that (a, b)
    /// and (b, a) count once.
    static func canonical(_ a: SubjectDataset.ImageReference, _ b: SubjectDataset.ImageReference) -> VerificationPair {
        (a.subject, a.image) <= (b.subject, b.image) ? VerificationPair(a, b) : VerificationPair(b, a)
    }
}
