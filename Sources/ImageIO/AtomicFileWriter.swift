import Foundation

/// Writes `bytes` to `url` through a temporary file in the same folder that
/// is then renamed over the destination. rename(2) within one file system is
/// atomic, so readers see either the old file or the whole new one, and a
/// crash leaves at most a stray temporary file, never a half-written file.
/// The temporary name starts with ".", so folder listings skip a stray one.
public func writeFileAtomically(_ bytes: [UInt8], to url: URL) throws {
    let folder = url.deletingLastPathComponent()
    let temporary = folder.appendingPathComponent(
        ".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).\(UInt32.random(in: 0...UInt32.max)).tmp")

    do {
        try Data(bytes).write(to: temporary)
        // Flushes the data to disk before the rename, so that after a power
        // loss the destination is not a renamed but empty file.
        let handle = try FileHandle(forUpdating: temporary)
        try handle.synchronize()
        try handle.close()
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw ImageIOError(
            .writeFailed, path: url.path, problem: "cannot write the temporary file \(temporary.lastPathComponent) (\(error.localizedDescription))")
    }

    if rename(temporary.path, url.path) != 0 {
        let reason = String(cString: strerror(errno))
        try? FileManager.default.removeItem(at: temporary)
        throw ImageIOError(.writeFailed, path: url.path, problem: "cannot rename the temporary file into place (\(reason))")
    }
}
