import Diffusion
import Foundation
import TensorCore

/// Fusing an adapter into a denoiser's weights, and separating it again.
///
/// A slot's weight becomes `W + (alpha / r)·B·A`. For a convolution slot
/// `B` is read as `[out, r]` and `A` as `[r, in·k·k]`, which is exact because
/// the slot's update is a convolution with `A`'s kernel followed by a 1×1
/// convolution with `B`. The merged file is an ordinary denoiser file that
/// `ModelFile.loadDenoiser` loads as a base model, and its
/// `merged_adapter` metadata records each slot's rank and alpha so that
/// import can factor the update back into `A` and `B`.
public enum AdapterMerge {
    /// Metadata key of the merge record (JSON: slot → rank and alpha, and the
    /// adapter's metadata).
    public static let recordKey = "merged_adapter"
    /// `format` metadata of denoiser files, as `ModelFile.save` writes it.
    static let denoiserFormatName = "hyperfield.denoiser"

    /// Returns a new denoiser with `base`'s weights and `adapter` fused into
    /// its slots. `base` is not changed.
    ///
    /// - Parameter file: names the output in error messages.
    /// - Throws: `AdapterError.nonFiniteValue` for an adapter with NaN or
    ///   infinity, `AdapterError.slotNotInBase` for a slot that `base` lacks
    ///   or whose shapes differ, and `AdapterError.nonFiniteMerge` when a
    ///   merged weight is not finite.
    public static func merged(_ base: Denoiser, with adapter: Adapter, file: String = "merged model") throws -> Denoiser {
        try checkFinite(adapter, file: file)
        let descriptors = Dictionary(uniqueKeysWithValues: base.slots.map { ($0.name, $0) })
        for name in adapter.slotNames {
            try checkFits(adapter.slots[name]!, slot: name, descriptor: descriptors[name])
        }

        let merged = Denoiser(base.configuration)
        try merged.load(Dictionary(uniqueKeysWithValues: base.namedParameters().map { ($0.name, $0.tensor) }))
        let parameters = Dictionary(uniqueKeysWithValues: merged.namedParameters().map { ($0.name, $0.tensor) })
        for name in adapter.slotNames {
            let weight = parameters[name + ".weight"]!
            // W + ΔW in Double, rounded once to Float32.
            let update = adapter.slots[name]!.updateMatrix()
            var values = weight.data
            for index in values.indices { values[index] = Float(Double(values[index]) + update.values[index]) }
            guard values.allSatisfy(\.isFinite) else { throw AdapterError.nonFiniteMerge(file: file, slot: name) }
            weight.data = values
        }
        return merged
    }

    /// Writes `base` with `adapter` fused in to `url` as a denoiser file,
    /// keeping `baseMetadata` (training step, data manifest) and adding the
    /// merge record.
    public static func write(
        _ adapter: Adapter, into base: Denoiser, baseMetadata: [String: String] = [:], to url: URL
    ) throws {
        let merged = try merged(base, with: adapter, file: url.path)
        let record = MergeRecord(
            slots: adapter.slots.mapValues { MergeRecord.Slot(rank: $0.rank, alpha: $0.alpha) },
            metadata: adapter.metadata)
        var metadata = baseMetadata
        metadata[recordKey] = compactJSON(record)
        if let hash = adapter.metadata[AdapterMetadataKey.baseModelSHA256] {
            metadata[AdapterMetadataKey.baseModelSHA256] = hash
        }
        try ModelFile.save(merged, configuration: merged.configuration, kind: "denoiser", metadata: metadata, to: url)
    }

    /// Separates the adapter from a merged file written by `write`, given the
    /// base model it was merged into.
    ///
    /// Each recorded slot's update `ΔW = W_merged − W_base` is factored by SVD
    /// into `A` and `B` at the recorded rank with the recorded alpha. The
    /// result equals the merged adapter up to Float32 rounding of the merged
    /// weights, though `A` and `B` themselves differ from the original
    /// factors (any invertible `r × r` matrix between them gives the same
    /// update).
    ///
    /// - Throws: `ModelFile.LoadError` for a file that is no denoiser,
    ///   `AdapterError.wrongKind` for a denoiser without a merge record or of
    ///   another configuration, `AdapterError.mergedBaseMismatch` when a
    ///   weight outside the recorded slots differs from `base`.
    public static func extract(mergedFile url: URL, base: Denoiser) throws -> Adapter {
        let (configuration, tensors, metadata) = try ModelFile.read(DenoiserConfiguration.self, kind: "denoiser", from: url)
        guard configuration == base.configuration else {
            throw AdapterError.wrongKind(
                file: url.path, found: "a denoiser of another configuration than the base model",
                expected: "a merge into the given base model", fix: "Pass the base model that the file was merged into")
        }
        guard let json = metadata[recordKey],
              let record = try? JSONDecoder().decode(MergeRecord.self, from: Data(json.utf8))
        else {
            throw AdapterError.wrongKind(
                file: url.path, found: "a denoiser without a '\(recordKey)' record", expected: "a merged adapter",
                fix: "Only files written by 'hyperfield export --format merged' record which slots changed; import the adapter file instead")
        }

        // Every weight outside the recorded slots must equal the base.
        let recordedWeights = Set(record.slots.keys.map { $0 + ".weight" })
        for (name, parameter) in base.namedParameters() where !recordedWeights.contains(name) {
            guard let merged = tensors[name], merged.shape == parameter.shape else {
                throw AdapterError.mergedBaseMismatch(file: url.path, parameter: name, maxDifference: .infinity)
            }
            if merged.data != parameter.data {
                let difference = zip(merged.data, parameter.data).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) }
                throw AdapterError.mergedBaseMismatch(file: url.path, parameter: name, maxDifference: difference)
            }
        }

        let descriptors = Dictionary(uniqueKeysWithValues: base.slots.map { ($0.name, $0) })
        let baseWeights = Dictionary(uniqueKeysWithValues: base.namedParameters().map { ($0.name, $0.tensor) })
        var adapter = Adapter(metadata: record.metadata)
        for (name, slot) in record.slots {
            guard let descriptor = descriptors[name], let merged = tensors[name + ".weight"] else {
                throw AdapterError.slotNotInBase(slot: name, reason: "is recorded in \(url.path) but is not a slot of the base model")
            }
            let weight = baseWeights[name + ".weight"]!
            let columns = weight.count / descriptor.outFeatures
            let update = DenseMatrix(
                rows: descriptor.outFeatures, columns: columns,
                values: zip(merged.data, weight.data).map { Double($0) - Double($1) })

            // ΔW / (alpha / r) = B·A, split evenly between B and A.
            let scale = Double(slot.alpha) / Double(slot.rank)
            let (u, singularValues, v) = matrixSVD(update)
            let unscaled = singularValues.map { scale == 0 ? 0 : $0 / abs(scale) }
            var down = v
            if scale < 0 { for index in down.values.indices { down.values[index] = -down.values[index] } }
            adapter.slots[name] = LoRAWeights.fromSVD(
                u: u, singularValues: unscaled, v: down, rank: slot.rank, alpha: slot.alpha,
                aShape: descriptor.aShape(rank: slot.rank), bShape: descriptor.bShape(rank: slot.rank))
        }
        return adapter
    }

    /// Throws `AdapterError.slotNotInBase` unless `weights` fit `descriptor`.
    static func checkFits(_ weights: LoRAWeights, slot: String, descriptor: SlotDescriptor?) throws {
        guard let descriptor else {
            throw AdapterError.slotNotInBase(slot: slot, reason: "is not a slot of the base model")
        }
        let rank = weights.rank
        guard weights.a.shape == descriptor.aShape(rank: rank), weights.b.shape == descriptor.bShape(rank: rank) else {
            throw AdapterError.slotNotInBase(
                slot: slot,
                reason: "has A \(weights.a.shape) and B \(weights.b.shape), but the base model's slot needs A \(descriptor.aShape(rank: rank)) and B \(descriptor.bShape(rank: rank))")
        }
    }
}

/// The `merged_adapter` metadata of a merged file.
struct MergeRecord: Codable {
    struct Slot: Codable {
        var rank: Int
        var alpha: Float
    }

    var slots: [String: Slot]
    /// The adapter's own metadata (convergence state, subject hashes).
    var metadata: [String: String]
}
