/// The class of a subject, which selects the class token of the condition
/// ("a [V] dog").
public enum SubjectClass: String, Sendable, CaseIterable, Comparable {
    case face
    case cat
    case dog

    /// Maps a class folder name such as AFHQ's `cat` and `dog` to a class,
    /// ignoring case and a plural "s". Returns nil for other names.
    public init?(folderName: String) {
        let lowered = folderName.lowercased()
        let singular = lowered.hasSuffix("s") ? String(lowered.dropLast()) : lowered
        guard let match = SubjectClass(rawValue: lowered) ?? SubjectClass(rawValue: singular) else { return nil }
        self = match
    }

    public static func < (lhs: SubjectClass, rhs: SubjectClass) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
