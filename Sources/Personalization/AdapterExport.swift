import Diffusion
import Foundation
import TensorCore

/// Settings that reshape an adapter before it is written: the slots kept,
/// their rank and their strength.
public struct AdapterExportSettings: Sendable {
    /// Glob patterns of slot names (`*` any run of characters, dots
    /// included, `?` one character). A slot is kept when any pattern matches
    /// it, and every pattern must match at least one slot.
    public var slotPatterns: [String] = ["*"]
    /// Rank to truncate every slot to by SVD, or nil to keep the ranks.
    /// Slots of this rank or lower are kept exactly.
    public var rank: Int?
    /// Factor on every slot's update, applied to `B`, so 0 gives an adapter
    /// that changes nothing.
    public var scale: Float = 1
    /// Element type of the written tensors: `.f32`, `.f16` or `.bf16`.
    public var dtype: SafeTensorsDType = .f32

    public init() {}
}

/// The record of what export did to one slot.
public struct SlotExportReport: Encodable, Equatable, Sendable {
    public let slot: String
    /// Rank before truncation.
    public let sourceRank: Int
    public let rank: Int
    public let alpha: Float
    /// `‖ΔW − ΔW_k‖_F / ‖ΔW‖_F` of the truncation; 0 when the rank was kept.
    public let relativeError: Float

    enum CodingKeys: String, CodingKey {
        case slot
        case sourceRank = "source_rank"
        case rank
        case alpha
        case relativeError = "relative_error"
    }
}

/// An adapter ready to be written, with the report of each slot.
public struct PreparedAdapter {
    public let adapter: Adapter
    /// One entry per kept slot, in name order.
    public let slots: [SlotExportReport]
}

/// The base model that a merged export fuses the adapter into.
public struct MergeBase {
    public let model: Denoiser
    /// Metadata of the base model's file, kept in the merged file.
    public let metadata: [String: String]

    public init(model: Denoiser, metadata: [String: String] = [:]) {
        self.model = model
        self.metadata = metadata
    }
}

/// One file (or PEFT folder) of a trajectory export.
public struct TrajectoryFile: Encodable, Sendable {
    /// The convergence state `s` of the adapter in the file.
    public let step: Int
    public let path: String
}

/// Export of adapters to every format: the stored state or any convergence
/// state of a source, one file or a whole trajectory, after slot selection,
/// scaling and rank truncation.
public enum AdapterExport {
    /// Selects the slots that `settings.slotPatterns` match, scales their
    /// `B` by `settings.scale`, then truncates them to `settings.rank`.
    ///
    /// - Throws: `AdapterError.noSlotsMatch` for a pattern that matches no
    ///   slot.
    public static func prepare(_ adapter: Adapter, settings: AdapterExportSettings) throws -> PreparedAdapter {
        let names = adapter.slotNames
        for pattern in settings.slotPatterns where !names.contains(where: { globMatches(pattern, $0) }) {
            throw AdapterError.noSlotsMatch(pattern: pattern, slotExample: names.first)
        }

        var result = Adapter(metadata: adapter.metadata)
        var reports: [SlotExportReport] = []
        for name in names where settings.slotPatterns.contains(where: { globMatches($0, name) }) {
            let source = adapter.slots[name]!
            var weights = LoRAWeights(
                a: source.a.detached(), b: Tensor(shape: source.b.shape, data: source.b.data.map { $0 * settings.scale }),
                alpha: source.alpha)
            var relativeError: Float = 0
            if let rank = settings.rank {
                let truncation = weights.truncated(toRank: rank)
                weights = truncation.weights
                relativeError = truncation.relativeError
            }
            result.slots[name] = weights
            reports.append(SlotExportReport(
                slot: name, sourceRank: source.rank, rank: weights.rank, alpha: weights.alpha, relativeError: relativeError))
        }
        return PreparedAdapter(adapter: result, slots: reports)
    }

    /// Returns the adapter of `source` at `request`, with the convergence
    /// state in its metadata. Without a request it returns the stored
    /// adapter of a single-state source, or the final state `S` of a
    /// trajectory.
    ///
    /// - Throws: `AdapterError.singleState` when a state is requested from a
    ///   source that stores one; `AdapterError.stepOutOfRange`.
    public static func adapter(from source: AdapterSource, at request: ConvergenceRequest?) throws -> Adapter {
        guard source.holdsTrajectory else {
            if let request { throw AdapterError.singleState(source: source.label, option: "--step \(request)") }
            return source.adapter(atStep: source.totalSteps)
        }
        let step = try request?.resolvedStep(totalSteps: source.totalSteps) ?? source.totalSteps
        return adapter(from: source, step: step)
    }

    /// Writes `adapter` to `url` in `format`. A PEFT export is a folder.
    ///
    /// - Parameter base: required for `merged`; for the other formats, when
    ///   given, every slot is checked to fit it.
    /// - Returns: the files written.
    /// - Throws: `AdapterError.nonFiniteValue` (nothing is written),
    ///   `AdapterError.slotNotInBase`, `AdapterError.baseModelRequired` and
    ///   `AdapterError.mergedDTypeNotF32` for merged exports, and the errors
    ///   of each format's writer.
    @discardableResult
    public static func write(
        _ adapter: Adapter, format: AdapterFormat, to url: URL, dtype: SafeTensorsDType = .f32, base: MergeBase? = nil
    ) throws -> [URL] {
        if let base {
            let descriptors = Dictionary(uniqueKeysWithValues: base.model.slots.map { ($0.name, $0) })
            for name in adapter.slotNames {
                try AdapterMerge.checkFits(adapter.slots[name]!, slot: name, descriptor: descriptors[name])
            }
        }

        switch format {
        case .native:
            try AdapterFile.write(adapter, to: url, dtype: dtype)
            return [url]
        case .peft:
            return try PEFTFormat.write(adapter, to: url, dtype: dtype)
        case .kohya:
            try KohyaFormat.write(adapter, to: url, dtype: dtype)
            return [url]
        case .merged:
            guard let base else { throw AdapterError.baseModelRequired(file: url.path) }
            guard dtype == .f32 else { throw AdapterError.mergedDTypeNotF32(file: url.path, dtype: dtype.rawValue) }
            try AdapterMerge.write(adapter, into: base.model, baseMetadata: base.metadata, to: url)
            return [url]
        }
    }

    /// Writes the states `0, every, 2·every, …, S` of `source` into `folder`,
    /// one file per state named `step-<s>` (zero-padded, with `.safetensors`
    /// except for PEFT folders), each prepared with `settings`.
    ///
    /// - Throws: `AdapterError.singleState` for a source without a
    ///   trajectory, and the errors of `prepare` and `write`.
    @discardableResult
    public static func writeTrajectory(
        from source: AdapterSource, every: Int = 1, settings: AdapterExportSettings, format: AdapterFormat,
        folder: URL, base: MergeBase? = nil
    ) throws -> [TrajectoryFile] {
        precondition(every >= 1, "writeTrajectory: every must be at least 1, got \(every)")
        guard source.holdsTrajectory else {
            throw AdapterError.singleState(source: source.label, option: "--trajectory")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)

        let totalSteps = source.totalSteps
        var steps = Array(stride(from: 0, through: totalSteps, by: every))
        if steps.last != totalSteps { steps.append(totalSteps) }
        let width = max(4, String(totalSteps).count)

        var files: [TrajectoryFile] = []
        for step in steps {
            let prepared = try prepare(adapter(from: source, step: step), settings: settings)
            let digits = String(step)
            let name = "step-" + String(repeating: "0", count: width - digits.count) + digits
            let url = folder.appendingPathComponent(format == .peft ? name : name + ".safetensors")
            try write(prepared.adapter, format: format, to: url, dtype: settings.dtype, base: base)
            files.append(TrajectoryFile(step: step, path: url.path))
        }
        return files
    }

    /// `source`'s adapter at `step`, with `s` and `S` in its metadata.
    private static func adapter(from source: AdapterSource, step: Int) -> Adapter {
        var adapter = source.adapter(atStep: step)
        adapter.metadata[AdapterMetadataKey.convergenceState] = String(step)
        adapter.metadata[AdapterMetadataKey.convergenceSteps] = String(source.totalSteps)
        return adapter
    }
}
