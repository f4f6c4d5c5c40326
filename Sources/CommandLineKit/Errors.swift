/// A command line that does not match the command's declaration. The program
/// prints the message, the usage line and a pointer to `--help`, then exits
/// with code 2.
public struct UsageError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// A failure while a command runs (a missing file, a bad checkpoint). The
/// program prints the message and exits with code 1. The message should name
/// the value that failed and what to do about it.
public struct RuntimeError: Error, CustomStringConvertible, Equatable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// Process exit codes of the program.
public enum ExitCode: Int32, Sendable {
    case success = 0
    /// Runtime error: the command line was valid but the work failed.
    case failure = 1
    /// Usage error: the command line itself was invalid.
    case usage = 2
}
