import Foundation
import TensorCore

/// A run folder of `checkpoint-<step>` subfolders and a `latest` file naming
/// the newest one. A checkpoint is written into a temporary folder and
/// renamed, so a crash never leaves a half-written checkpoint behind.
///
/// Each checkpoint folder contains `model.safetensors` (the model's weights
/// with its configuration) and `state.safetensors` (optimizer moments, EMA
/// weights, and the step, random state and settings in its metadata).
public struct CheckpointStore {
    public let folder: URL
    public let keep: Int

    public init(folder: URL, keep: Int = 3) {
        self.folder = folder
        self.keep = max(1, keep)
    }

    static let latestFileName = "latest"

    /// Folder of the checkpoint at `step`.
    public func checkpointFolder(step: Int) -> URL {
        folder.appendingPathComponent("checkpoint-\(step)")
    }

    /// Returns the newest checkpoint, from the `latest` pointer, or nil for
    /// a new run folder.
    public func latest() throws -> URL? {
        let pointer = folder.appendingPathComponent(Self.latestFileName)
        guard FileManager.default.fileExists(atPath: pointer.path) else { return nil }
        let name = try String(contentsOf: pointer, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let checkpoint = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: checkpoint.appendingPathComponent("state.safetensors").path) else {
            throw TrainingError.invalidCheckpoint(
                "\(pointer.path) names \(name), which has no state.safetensors; delete the pointer or the run folder to start over")
        }
        return checkpoint
    }

    /// Writes a checkpoint, points `latest` at it and deletes the oldest
    /// beyond `keep`.
    public func save(
        step: Int, model: [(name: String, tensor: Tensor)], modelMetadata: [String: String],
        state: [(name: String, tensor: Tensor)], stateMetadata: [String: String]
    ) throws -> URL {
        let manager = FileManager.default
        try manager.createDirectory(at: folder, withIntermediateDirectories: true)
        let final = checkpointFolder(step: step)
        let temporary = folder.appendingPathComponent(".checkpoint-\(step).tmp-\(getpid())")
        try? manager.removeItem(at: temporary)
        try manager.createDirectory(at: temporary, withIntermediateDirectories: true)
        do {
            try SafeTensors.write(model, metadata: modelMetadata, to: temporary.appendingPathComponent("model.safetensors"))
            try SafeTensors.write(state, metadata: stateMetadata, to: temporary.appendingPathComponent("state.safetensors"))
            if manager.fileExists(atPath: final.path) { try manager.removeItem(at: final) }
            try manager.moveItem(at: temporary, to: final)
        } catch {
            try? manager.removeItem(at: temporary)
            throw error
        }
        try AtomicFile.write(Data((final.lastPathComponent + "\n").utf8), to: folder.appendingPathComponent(Self.latestFileName))
        try rotate()
        return final
    }

    /// Steps of the checkpoints present, ascending.
    public func steps() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.compactMap { name in
            name.hasPrefix("checkpoint-") ? Int(name.dropFirst("checkpoint-".count)) : nil
        }.sorted()
    }

    private func rotate() throws {
        let present = steps()
        for step in present.dropLast(keep) {
            try FileManager.default.removeItem(at: checkpointFolder(step: step))
        }
    }
}
