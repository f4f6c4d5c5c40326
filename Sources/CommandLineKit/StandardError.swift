import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard error, shared by log lines, error messages and the progress line.
///
/// On a terminal the progress line is redrawn in place. A log line written
/// meanwhile first erases it, then the progress line is drawn again below,
/// so the two never mix on one line.
public final class StandardError: @unchecked Sendable {
    public static let shared = StandardError()

    /// Whether standard error is a terminal that understands carriage return
    /// and the erase-line escape (not `TERM=dumb`).
    public let isTerminal: Bool

    private let lock = NSLock()
    /// Progress line currently on screen, or nil. Guarded by `lock`.
    private var statusLine: String?

    private init() {
        isTerminal = isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// Writes `text`, which should end with a newline, keeping any progress
    /// line below it.
    public func write(_ text: String) {
        lock.lock()
        defer { lock.unlock() }
        if let statusLine {
            emit("\r\u{1B}[K" + text + statusLine)
        } else {
            emit(text)
        }
    }

    /// Draws `line` in place of the current progress line (terminal only).
    func drawStatusLine(_ line: String) {
        lock.lock()
        defer { lock.unlock() }
        statusLine = line
        emit("\r" + line + "\u{1B}[K")
    }

    /// Leaves the current progress line on screen and moves below it.
    public func endStatusLine() {
        lock.lock()
        defer { lock.unlock() }
        if statusLine != nil {
            emit("\n")
            statusLine = nil
        }
    }

    /// Width of the terminal in columns, from the terminal itself, else the
    /// `COLUMNS` variable, else 80.
    public var columns: Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap({ Int($0) }), columns > 0 {
            return columns
        }
        return 80
    }

    private func emit(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
