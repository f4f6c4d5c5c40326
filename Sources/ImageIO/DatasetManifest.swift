import Foundation

/// The list of image files a dataset was built from, with each file's
/// SHA-256, so that a trained model can record exactly what it saw.
///
/// The text form is tab-separated: a format line, a header line, then one
/// line per file. Paths are relative to the dataset root, so the manifest of
/// the same files is identical on every machine. `sha256` hashes that text,
/// and is the value a model card or weight file cites.
public struct DatasetManifest: Sendable, Equatable {
    /// One image file.
    public struct Entry: Sendable, Equatable {
        /// Subject identifier ("collection/name").
        public var subject: String
        public var classLabel: SubjectClass
        /// Path relative to the dataset root.
        public var file: String
        /// File size in bytes.
        public var byteCount: Int
        /// Image size declared in the file, before EXIF orientation.
        public var width: Int
        public var height: Int
        /// SHA-256 of the file's bytes, 64 lowercase hexadecimal digits.
        public var sha256: String

        public init(
            subject: String, classLabel: SubjectClass, file: String, byteCount: Int, width: Int, height: Int,
            sha256: String
        ) {
            self.subject = subject
            self.classLabel = classLabel
            self.file = file
            self.byteCount = byteCount
            self.width = width
            self.height = height
            self.sha256 = sha256
        }
    }

    static let formatLine = "# HyperField dataset manifest, format 1"
    static let columns = ["subject", "class", "file", "bytes", "width", "height", "sha256"]

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// The manifest as tab-separated text with "\n" line endings. Tabs,
    /// line breaks and backslashes inside names are escaped as \t, \n, \r
    /// and \\.
    public var text: String {
        var lines = [Self.formatLine, Self.columns.joined(separator: "\t")]
        for entry in entries {
            let fields = [
                escape(entry.subject), entry.classLabel.rawValue, escape(entry.file), String(entry.byteCount),
                String(entry.width), String(entry.height), entry.sha256,
            ]
            lines.append(fields.joined(separator: "\t"))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// SHA-256 of `text`, 64 lowercase hexadecimal digits.
    public var sha256: String {
        SHA256.hexDigest(of: Array(text.utf8))
    }

    /// Writes `text` to `url` through a temporary file that is renamed into
    /// place, and returns the manifest's SHA-256.
    @discardableResult
    public func write(to url: URL) throws -> String {
        let bytes = Array(text.utf8)
        try writeFileAtomically(bytes, to: url)
        return SHA256.hexDigest(of: bytes)
    }

    /// Returns the conventional location `<repository>/data/<name>.manifest.tsv`.
    public static func defaultURL(repositoryRoot: URL, name: String) -> URL {
        repositoryRoot.appendingPathComponent("data").appendingPathComponent("\(name).manifest.tsv")
    }

    /// Parses the text form. Throws when the format line, header or a row
    /// is malformed; `path` labels the error.
    public init(text: String, path: String = "<manifest>") throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard lines.count >= 2, lines[0] == Self.formatLine, lines[1] == Self.columns.joined(separator: "\t") else {
            throw ImageIOError(
                .invalidArgument, path: path,
                problem: "not a dataset manifest: expected the lines \"\(Self.formatLine)\" and the column header first")
        }

        var entries: [Entry] = []
        for (offset, line) in lines.dropFirst(2).enumerated() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let lineNumber = offset + 3
            guard fields.count == Self.columns.count, let classLabel = SubjectClass(rawValue: fields[1]),
                let byteCount = Int(fields[3]), let width = Int(fields[4]), let height = Int(fields[5]),
                fields[6].count == 64
            else {
                throw ImageIOError(
                    .invalidArgument, path: path,
                    problem: "line \(lineNumber) does not have the fields \(Self.columns.joined(separator: ", "))")
            }
            entries.append(
                Entry(
                    subject: unescape(fields[0]), classLabel: classLabel, file: unescape(fields[2]),
                    byteCount: byteCount, width: width, height: height, sha256: fields[6]))
        }
        self.init(entries: entries)
    }
}

// Both helpers work on Unicode scalars, because Swift treats "\r\n" as one
// Character, which a switch over Characters would not match.
private func escape(_ field: String) -> String {
    var escaped = String.UnicodeScalarView()
    for scalar in field.unicodeScalars {
        switch scalar {
        case "\\": escaped.append(contentsOf: "\\\\".unicodeScalars)
        case "\t": escaped.append(contentsOf: "\\t".unicodeScalars)
        case "\n": escaped.append(contentsOf: "\\n".unicodeScalars)
        case "\r": escaped.append(contentsOf: "\\r".unicodeScalars)
        default: escaped.append(scalar)
        }
    }
    return String(escaped)
}

private func unescape(_ field: String) -> String {
    var result = String.UnicodeScalarView()
    var iterator = field.unicodeScalars.makeIterator()
    while let scalar = iterator.next() {
        guard scalar == "\\", let next = iterator.next() else {
            result.append(scalar)
            continue
        }
        switch next {
        case "t": result.append("\t")
        case "n": result.append("\n")
        case "r": result.append("\r")
        default: result.append(next)
        }
    }
    return String(result)
}
