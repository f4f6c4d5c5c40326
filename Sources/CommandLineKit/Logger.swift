import Foundation

/// Log lines on standard error: information as plain text, warnings prefixed
/// "warning:", each optionally led by a local timestamp. Lines are written
/// above any progress line, never through it.
public struct Logger: Sendable {
    public enum Level: Sendable {
        case info
        case warning
    }

    /// Whether each line starts with the local date and time.
    public var showsTimestamps: Bool

    public init(showsTimestamps: Bool = false) {
        self.showsTimestamps = showsTimestamps
    }

    /// The `--log-timestamps` flag, for commands whose logs are kept in files.
    public static var timestampsOption: Option<Bool> {
        .flag("log-timestamps", help: "start every log line with the local date and time")
    }

    public func info(_ message: String) {
        write(message, level: .info)
    }

    public func warning(_ message: String) {
        write(message, level: .warning)
    }

    private func write(_ message: String, level: Level) {
        let line = Logger.format(message, level: level, timestamp: showsTimestamps ? Date() : nil, timeZone: .current)
        StandardError.shared.write(line + "\n")
    }

    /// Formats one log line, such as `2025-06-01 14:03:09 warning: message`.
    /// The date and time, in `timeZone`, lead the line only when `timestamp`
    /// is given.
    public static func format(_ message: String, level: Level, timestamp: Date?, timeZone: TimeZone) -> String {
        var line = ""
        if let timestamp {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = timeZone
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: timestamp)
            line += String(format: "%04d-%02d-%02d %02d:%02d:%02d ",
                           parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
                           parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
        }
        if level == .warning { line += "warning: " }
        return line + message
    }
}
