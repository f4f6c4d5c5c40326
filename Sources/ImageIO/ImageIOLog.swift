import Foundation

/// Destination of this module's log lines: skipped files, skipped subjects
/// and the summary of non-image files. Inject a closure to collect the
/// lines in tests or route them to a program's own log.
public typealias ImageIOLog = @Sendable (String) -> Void

/// Writes each line to standard error.
public let standardErrorLog: ImageIOLog = { line in
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
