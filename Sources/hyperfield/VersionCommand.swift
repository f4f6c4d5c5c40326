import CommandLineKit
import Foundation
import TensorCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Facts about the engine as a whole.
enum Engine {
    /// Engine version, printed by `hyperfield version`.
    // NOTE: weight files should record this same value in their metadata, so
    // move it into a library target once the safetensors writer needs it.
    static let version = "0.1.0"
}

/// The `hyperfield version` command, which prints what a bug report or a
/// benchmark record needs to identify the build and the machine.
struct VersionCommand: Command {
    let name = "version"
    let summary = "print the engine version, Swift version, operating system and thread count"
    let description = """
        The Swift version is that of the compiler that built the program, at \
        major.minor precision. The operating system line gives the \
        distribution, the kernel release and the processor architecture.

        The thread count is the value of HYPERFIELD_THREADS when that is a whole \
        number, raised to 1 if lower, and the number of active processors \
        otherwise.
        """

    let json = Option.json
    var options: [any CommandOption] { [json] }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        let report = VersionReport.current(logger: logger)
        if arguments[json] {
            try JSONOutput.write(report)
            return
        }

        print("hyperfield \(report.engineVersion)")
        print("swift      \(report.swiftVersion)")
        print("os         \(report.operatingSystem); \(report.kernel) \(report.architecture)")
        print("threads    \(report.threads) (\(report.threadSource))")
    }
}

/// Build and machine facts printed by `hyperfield version`.
struct VersionReport: Encodable {
    let engineVersion: String
    /// Swift compiler version at major.minor precision, because the patch
    /// level is not visible at compile time.
    let swiftVersion: String
    /// Distribution name, such as "Debian GNU/Linux 12 (bookworm)".
    let operatingSystem: String
    /// Kernel name and release, such as "Linux 6.1.0".
    let kernel: String
    /// Processor architecture, such as "x86_64".
    let architecture: String
    /// Threads used by the engine's loops and GEMM splits.
    let threads: Int
    /// Source of the thread count: "HYPERFIELD_THREADS" or "active processors".
    let threadSource: String

    enum CodingKeys: String, CodingKey {
        case engineVersion = "engine_version"
        case swiftVersion = "swift_version"
        case operatingSystem = "operating_system"
        case kernel
        case architecture
        case threads
        case threadSource = "thread_source"
    }

    /// Collects the facts of this process. Warns when HYPERFIELD_THREADS is
    /// set but not used as written.
    static func current(logger: Logger) -> VersionReport {
        var system = utsname()
        uname(&system)
        let sysname = withUnsafeBytes(of: system.sysname) { cString(from: $0) }
        let release = withUnsafeBytes(of: system.release) { cString(from: $0) }
        let machine = withUnsafeBytes(of: system.machine) { cString(from: $0) }

        let threads = Threading.threadCount
        var threadSource = "active processors"
        if let setting = ProcessInfo.processInfo.environment["HYPERFIELD_THREADS"] {
            // Same reading as TensorCore's Threading.threadCount.
            if let requested = Int(setting) {
                threadSource = "HYPERFIELD_THREADS"
                if requested < 1 {
                    logger.warning("HYPERFIELD_THREADS=\(setting) is below 1, so the engine uses 1 thread")
                }
            } else {
                logger.warning("HYPERFIELD_THREADS='\(setting)' is not a whole number, so the engine uses the \(threads) active processors; set it to a whole number such as 2")
            }
        }

        return VersionReport(
            engineVersion: Engine.version,
            swiftVersion: compilerVersion(),
            operatingSystem: ProcessInfo.processInfo.operatingSystemVersionString,
            kernel: "\(sysname) \(release)",
            architecture: machine,
            threads: threads,
            threadSource: threadSource)
    }
}

/// Decodes a fixed-size, NUL-terminated C character array as UTF-8.
private func cString(from bytes: UnsafeRawBufferPointer) -> String {
    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
}

/// Returns the major and minor version of the Swift compiler that built the
/// program.
private func compilerVersion() -> String {
    #if compiler(>=6.5)
    return "6.5 or later"
    #elseif compiler(>=6.4)
    return "6.4"
    #elseif compiler(>=6.3)
    return "6.3"
    #elseif compiler(>=6.2)
    return "6.2"
    #elseif compiler(>=6.1)
    return "6.1"
    #else
    return "6.0"
    #endif
}
