import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file writes that either replace the destination completely or leave
/// it untouched.
///
/// The bytes go to a new temporary file in the destination's folder, named
/// `.<name>.tmp-<pid>-<random hex>`. That file is flushed to disk with `fsync`
/// and then renamed over the destination with POSIX `rename`, which replaces
/// the name in one step. On any error the temporary file is removed and the
/// old destination, if there was one, keeps its contents.
///
/// A process killed between creating and renaming the temporary file leaves
/// that hidden file behind, never a half-written destination. A destination
/// that is a symbolic link is replaced by a regular file; the link target is
/// not written. The destination's folder must exist.
public enum AtomicFile {
    /// Writes `data` to `url` through a temporary file and a rename.
    ///
    /// An existing destination keeps its permission bits. A new file gets
    /// `0666` minus the process umask, as `open` gives any new file.
    ///
    /// - Throws: `AtomicFileError` naming the destination and the step that
    ///   failed.
    public static func write(_ data: Data, to url: URL) throws {
        try write(data, to: url, beforeRename: { _ in })
    }

    /// Writes as `write(_:to:)` does, and calls `beforeRename` with the
    /// temporary file's URL after its bytes are on disk and before the rename.
    /// Tests use the hook to inject a failure just before the rename. An error
    /// thrown by the hook gets the same cleanup as any other and is rethrown
    /// unchanged.
    static func write(
        _ data: Data, to url: URL, beforeRename: (URL) throws -> Void
    ) throws {
        let destination = url.path
        let folder = url.deletingLastPathComponent().path
        let existingMode = permissionBits(ofRegularFile: destination)

        let (descriptor, temporaryPath) = try createTemporaryFile(
            in: folder, for: url.lastPathComponent, destination: destination)
        var isOpen = true
        do {
            if let mode = existingMode, fchmod(descriptor, mode) != 0 {
                throw AtomicFileError(destination: destination, step: .setPermissions, code: errno)
            }
            try writeAll(data, to: descriptor, destination: destination)
            if fsync(descriptor) != 0 {
                throw AtomicFileError(destination: destination, step: .sync, code: errno)
            }
            isOpen = false
            if close(descriptor) != 0 {
                throw AtomicFileError(destination: destination, step: .close, code: errno)
            }

            try beforeRename(URL(fileURLWithPath: temporaryPath))

            if rename(temporaryPath, destination) != 0 {
                throw AtomicFileError(destination: destination, step: .rename, code: errno)
            }
        } catch {
            if isOpen { close(descriptor) }
            unlink(temporaryPath)
            throw error
        }

        syncFolder(folder)
    }

    /// Creates the temporary file with `O_EXCL`, so an existing file or link of
    /// the same name is never reused, and retries with a new random suffix when
    /// the name is taken.
    private static func createTemporaryFile(
        in folder: String, for name: String, destination: String
    ) throws -> (descriptor: Int32, path: String) {
        // Linux file systems limit a file name to 255 bytes. The added dot and
        // suffix take about 30, so a long destination name is shortened here.
        var base = name
        while base.utf8.count > 200 { base.removeLast() }

        var lastError: Int32 = EEXIST
        for _ in 0..<8 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            let path = folder + "/.\(base).tmp-\(getpid())-\(suffix)"
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            if descriptor >= 0 { return (descriptor, path) }
            lastError = errno
            if lastError != EEXIST { break }
        }
        throw AtomicFileError(destination: destination, step: .createTemporary, code: lastError)
    }

    private static func writeAll(_ data: Data, to descriptor: Int32, destination: String) throws {
        // Linux transfers at most about 2 GiB per write call, so large buffers
        // go in 1 GiB chunks. After a short write the loop continues where it
        // stopped.
        let chunkByteCount = 1 << 30
        try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let length = min(chunkByteCount, bytes.count - offset)
                let written = writeToDescriptor(descriptor, base + offset, length)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw AtomicFileError(destination: destination, step: .write, code: errno)
                }
                offset += written
            }
        }
    }

    /// Permission bits of the regular file at `path`, or nil when there is no
    /// such file.
    private static func permissionBits(ofRegularFile path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return info.st_mode & 0o7777
    }

    /// Flushes the folder entry so that the rename itself survives a power
    /// loss. Errors are ignored, because the new contents are already in place
    /// and some file systems do not support `fsync` on folders.
    private static func syncFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }
}

/// Calls the C library's `write`, whose name `AtomicFile.write` shadows inside
/// that type.
private func writeToDescriptor(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

/// Failure of an atomic file write, with the step that failed and the
/// operating system's error number.
public struct AtomicFileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Stages of an atomic write, in the order they run.
    public enum Step: String, Sendable {
        case createTemporary = "create a temporary file in the destination folder"
        case setPermissions = "copy the permission bits of the existing file"
        case write = "write the temporary file"
        case sync = "flush the temporary file to disk"
        case close = "close the temporary file"
        case rename = "rename the temporary file over the destination"
    }

    /// Path of the file that was to be written.
    public let destination: String
    public let step: Step
    /// `errno` after the failing call.
    public let code: Int32

    public var description: String {
        let reason = String(cString: strerror(code))
        let message = "cannot write \(destination): failed to \(step.rawValue): \(reason) (errno \(code))"
        if code == ENOENT && step == .createTemporary {
            return message + ". Create the folder first"
        }
        if code == EACCES || code == EPERM || code == EROFS {
            return message + ". Check that the folder is writable"
        }
        if code == ENOSPC || code == EDQUOT {
            return message + ". Free disk space and try again"
        }
        if step == .rename && (code == EISDIR || code == ENOTEMPTY || code == EEXIST) {
            return message + ". The destination is a folder, so choose a file name instead"
        }
        return message
    }
}
