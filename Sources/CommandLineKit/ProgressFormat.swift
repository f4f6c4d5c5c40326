import Foundation

/// State of long work at one moment, as the progress line shows it.
public struct ProgressState: Sendable, Equatable {
    /// Name of the work, first on the line (`train-field`).
    public var label: String
    /// Items done so far.
    public var completed: Int
    /// Items in all, or nil when unknown, which leaves out percentage, bar
    /// and ETA.
    public var total: Int?
    /// Seconds since the work started.
    public var elapsed: Double
    /// Items already done when the clock started (a resumed run's step), so
    /// that rate and ETA count only the items of this run.
    public var startCount: Int
    /// Plural name of an item ("steps", "images").
    public var unit: String
    /// Extra `name=value` fields after the timing, in order (loss=0.0123).
    public var fields: [ProgressField]

    public init(label: String, completed: Int, total: Int?, elapsed: Double, unit: String,
                fields: [ProgressField] = [], startCount: Int = 0) {
        self.label = label
        self.completed = completed
        self.total = total
        self.elapsed = elapsed
        self.startCount = startCount
        self.unit = unit
        self.fields = fields
    }
}

/// One `name=value` field of a progress line.
public struct ProgressField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Pure formatting of progress lines: every function takes the elapsed time
/// and counts, so tests need no clock.
public enum ProgressFormat {
    /// Items per second since the clock started at `startCount` items, or
    /// nil before the first item or the first instant.
    public static func rate(completed: Int, elapsed: Double, startCount: Int = 0) -> Double? {
        let done = completed - startCount
        guard done > 0, elapsed > 0, elapsed.isFinite else { return nil }
        return Double(done) / elapsed
    }

    /// Returns the seconds left at the average rate so far: 0 once all is
    /// done, and nil when the total or the rate is unknown.
    public static func remainingSeconds(completed: Int, total: Int?, elapsed: Double, startCount: Int = 0) -> Double? {
        guard let total else { return nil }
        if completed >= total { return 0 }
        guard let rate = rate(completed: completed, elapsed: elapsed, startCount: startCount) else { return nil }
        return Double(total - completed) / rate
    }

    /// Rate with about three significant digits and its unit: "3.41 steps/s",
    /// "125 images/s", "0.012 steps/s".
    public static func formatRate(_ itemsPerSecond: Double, unit: String) -> String {
        let number: String
        switch itemsPerSecond {
        case 100...: number = String(format: "%.0f", itemsPerSecond)
        case 10..<100: number = String(format: "%.1f", itemsPerSecond)
        case 1..<10: number = String(format: "%.2f", itemsPerSecond)
        case 0.01..<1: number = String(format: "%.3f", itemsPerSecond)
        default: number = String(format: "%.2g", itemsPerSecond)
        }
        return "\(number) \(unit)/s"
    }

    /// Duration as "m:ss" below an hour and "h:mm:ss" from an hour on,
    /// rounded to whole seconds; "--:--" when unknown or not finite.
    public static func formatDuration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, seconds >= 0, seconds < 1e9 else { return "--:--" }
        let whole = Int(seconds.rounded())
        let hours = whole / 3600, minutes = (whole % 3600) / 60, secondsPart = whole % 60
        if hours > 0 {
            return String(format: "%d:%02d:%02d", hours, minutes, secondsPart)
        }
        return String(format: "%d:%02d", minutes, secondsPart)
    }

    /// Percentage with one decimal ("12.5%"), or nil without a total.
    public static func formatPercentage(completed: Int, total: Int?) -> String? {
        guard let total, total > 0 else { return nil }
        return String(format: "%.1f%%", 100 * Double(completed) / Double(total))
    }

    /// Line for a terminal, redrawn in place, at most `width - 1` characters
    /// so it never wraps:
    ///
    ///     train-field [######--------------]  120/1000   12.0%  3.41 steps/s  elapsed 0:35  ETA 4:18  loss=0.0123
    ///
    /// The bar is 10 to 30 characters wide and left out when the line would
    /// not fit with a 10-character bar. What still does not fit is cut off.
    public static func terminalLine(_ state: ProgressState, width: Int) -> String {
        let limit = max(width - 1, 1)

        // Counts and percentage keep a fixed width, so the line does not
        // shift, and the bar does not come and go, as digits are added.
        var tail: [String] = []
        if let total = state.total {
            let completed = String(state.completed)
            let padding = String(repeating: " ", count: max(String(total).count - completed.count, 0))
            tail.append("\(padding)\(completed)/\(total)")
            if let percentage = formatPercentage(completed: state.completed, total: total) {
                tail.append(String(repeating: " ", count: max(6 - percentage.count, 0)) + percentage)
            }
        } else {
            tail.append("\(state.completed) \(state.unit)")
        }
        tail.append(rate(completed: state.completed, elapsed: state.elapsed, startCount: state.startCount)
            .map { formatRate($0, unit: state.unit) } ?? "-- \(state.unit)/s")
        tail.append("elapsed \(formatDuration(state.elapsed))")
        if state.total != nil {
            tail.append("ETA \(formatDuration(remainingSeconds(completed: state.completed, total: state.total, elapsed: state.elapsed, startCount: state.startCount)))")
        }
        tail += state.fields.map { "\($0.name)=\($0.value)" }
        let tailText = tail.joined(separator: "  ")

        // The bar goes between the label and the tail.
        var line = state.label + " " + tailText
        if let total = state.total {
            let room = limit - state.label.count - tailText.count - 4
            if room >= 10 {
                line = state.label + " [" + bar(completed: state.completed, total: total, width: min(room, 30)) + "] " + tailText
            }
        }
        return line.count > limit ? String(line.prefix(limit)) : line
    }

    /// Line for a log or a pipe, one per report:
    ///
    ///     train-field: 120/1000 steps (12.0%), 3.41 steps/s, elapsed 0:35, ETA 4:18, loss=0.0123
    public static func plainLine(_ state: ProgressState) -> String {
        var parts: [String]
        if let total = state.total {
            let percentage = formatPercentage(completed: state.completed, total: total).map { " (\($0))" } ?? ""
            parts = ["\(state.completed)/\(total) \(state.unit)\(percentage)"]
        } else {
            parts = ["\(state.completed) \(state.unit)"]
        }
        if let rate = rate(completed: state.completed, elapsed: state.elapsed, startCount: state.startCount) {
            parts.append(formatRate(rate, unit: state.unit))
        }
        parts.append("elapsed \(formatDuration(state.elapsed))")
        if state.total != nil, let remaining = remainingSeconds(completed: state.completed, total: state.total, elapsed: state.elapsed, startCount: state.startCount) {
            parts.append("ETA \(formatDuration(remaining))")
        }
        parts += state.fields.map { "\($0.name)=\($0.value)" }
        return "\(state.label): " + parts.joined(separator: ", ")
    }

    /// Bar of `width` characters, `#` for the done fraction and `-` for the
    /// rest. Counts beyond the total fill the bar.
    static func bar(completed: Int, total: Int, width: Int) -> String {
        let fraction = total > 0 ? min(max(Double(completed) / Double(total), 0), 1) : 0
        let filled = Int((fraction * Double(width)).rounded(.down))
        return String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
    }
}

/// When to write the next progress line.
public enum ProgressThrottle {
    /// Returns whether a line is due at time `now`: always for the final
    /// state, otherwise once `interval` seconds have passed since
    /// `lastEmission`, the time of the previous line or of the start.
    public static func isDue(now: Double, lastEmission: Double, interval: Double, isFinal: Bool) -> Bool {
        isFinal || now - lastEmission >= interval
    }
}
