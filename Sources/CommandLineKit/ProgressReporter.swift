import Dispatch

/// Progress of long work on standard error.
///
/// On a terminal a single line with a bar, counts, percentage, rate, elapsed
/// time, ETA and custom fields is redrawn in place, at most every 0.1 s.
/// Otherwise (a log file, a pipe, `TERM=dumb`) a plain line is written at
/// most every `plainInterval` seconds, and always for the final state.
///
///     let progress = ProgressReporter(label: "train-field", total: steps, unit: "steps")
///     for step in 1...steps {
///         let loss = trainStep()
///         progress.update(completed: step, fields: [ProgressField("loss", String(format: "%.4f", loss))])
///     }
///     progress.finish()
///
/// Call `finish` before printing results to standard output, so that the
/// progress line ends first. The reporter is not thread-safe, so report
/// from one thread.
public final class ProgressReporter {
    public enum Style: Sendable {
        /// A bar redrawn in place.
        case terminal
        /// One line per report.
        case plain
    }

    /// Minimum seconds between terminal redraws, about 10 per second.
    public static let terminalRedrawInterval = 0.1

    public let label: String
    public let total: Int?
    public let unit: String
    public let style: Style
    /// Minimum seconds between plain lines.
    public let plainInterval: Double

    private let clock: () -> Double
    private let output: StandardError
    private let writePlainLine: (String) -> Void
    private let startTime: Double
    private let startCount: Int
    private var lastEmission: Double
    /// State of the last line written, so `finish` does not repeat it.
    private var lastWritten: ProgressState?
    private var latest: ProgressState
    private var isFinished = false

    /// Creates a reporter and starts its clock.
    ///
    /// - Parameters:
    ///   - total: item count of the whole work, or nil when unknown.
    ///   - unit: plural item name for counts and rate ("steps", "images").
    ///   - startCount: items already done before this run (a resumed
    ///     training's step); rate and ETA leave them out.
    ///   - style: terminal or plain. By default terminal exactly when
    ///     standard error is a terminal.
    ///   - plainInterval: minimum seconds between plain lines.
    ///   - clock: monotonic seconds, replaced by a fake clock in tests.
    public convenience init(label: String, total: Int?, unit: String = "steps", startCount: Int = 0,
                            style: Style? = nil, plainInterval: Double = 10,
                            clock: @escaping () -> Double = monotonicSeconds) {
        self.init(label: label, total: total, unit: unit, startCount: startCount, style: style,
                  plainInterval: plainInterval, clock: clock,
                  writePlainLine: { StandardError.shared.write($0 + "\n") })
    }

    /// Reporter whose plain lines go to `writePlainLine`, for tests.
    init(label: String, total: Int?, unit: String, startCount: Int = 0, style: Style?, plainInterval: Double,
         clock: @escaping () -> Double, writePlainLine: @escaping (String) -> Void) {
        self.label = label
        self.total = total
        self.unit = unit
        self.output = .shared
        self.writePlainLine = writePlainLine
        self.style = style ?? (StandardError.shared.isTerminal ? .terminal : .plain)
        self.plainInterval = plainInterval
        self.clock = clock
        self.startTime = clock()
        self.lastEmission = startTime
        self.startCount = startCount
        self.latest = ProgressState(label: label, completed: startCount, total: total, elapsed: 0, unit: unit,
                                    startCount: startCount)
    }

    /// Records that `completed` items are done and writes a line if one is
    /// due. Reaching `total` always writes.
    public func update(completed: Int, fields: [ProgressField] = []) {
        let now = clock()
        latest = ProgressState(label: label, completed: completed, total: total,
                               elapsed: now - startTime, unit: unit, fields: fields, startCount: startCount)
        let isFinal = total.map { completed >= $0 } ?? false
        let interval = style == .terminal ? Self.terminalRedrawInterval : plainInterval
        if ProgressThrottle.isDue(now: now, lastEmission: lastEmission, interval: interval, isFinal: isFinal) {
            emit(latest, at: now)
        }
    }

    /// Writes the final state unless it was just written, and ends the
    /// terminal line. Later calls do nothing.
    public func finish() {
        guard !isFinished else { return }
        isFinished = true
        let now = clock()
        latest.elapsed = now - startTime
        if latest.completed != lastWritten?.completed || latest.fields != lastWritten?.fields {
            emit(latest, at: now)
        }
        if style == .terminal { output.endStatusLine() }
    }

    private func emit(_ state: ProgressState, at now: Double) {
        switch style {
        case .terminal:
            output.drawStatusLine(ProgressFormat.terminalLine(state, width: output.columns))
        case .plain:
            writePlainLine(ProgressFormat.plainLine(state))
        }
        lastEmission = now
        lastWritten = state
    }
}

/// Seconds on a monotonic clock, for timing that wall-clock changes cannot
/// disturb.
public func monotonicSeconds() -> Double {
    Double(DispatchTime.now().uptimeNanoseconds) / 1e9
}
