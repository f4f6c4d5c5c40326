import Diffusion
import Foundation
import TensorCore

/// An adapter read from a file, with the keys and facts the import noted.
public struct ImportedAdapter {
    public let adapter: Adapter
    public let format: AdapterFormat
    /// Keys that match no slot. Non-empty only when the import allowed them.
    public let unmatchedKeys: [String]
    /// Facts that the user should see, such as slots read without an alpha.
    public let notes: [String]

    public init(adapter: Adapter, format: AdapterFormat, unmatchedKeys: [String] = [], notes: [String] = []) {
        self.adapter = adapter
        self.format = format
        self.unmatchedKeys = unmatchedKeys
        self.notes = notes
    }
}

/// Reading of every adapter format back into an `Adapter`.
///
/// Keys are converted by lookup in a table built from the base model's slot
/// names (`AdapterKeyTable`), so that kohya's underscored names resolve to
/// the right slots and every key that is left over is reported. Rank comes
/// from the tensor shapes and a missing alpha means alpha = rank. Alpha may
/// be stored in any dtype, with shape `[]` or `[1]`, and tensors of mixed
/// dtypes are converted to Float32 by the safetensors reader.
public enum AdapterImport {
    /// Imports the file or PEFT folder at `url` for the slots of `base`.
    /// Merged files are separated from `base`'s weights.
    ///
    /// - Parameters:
    ///   - format: the file's format, or nil to detect it.
    ///   - allowUnmatched: skips keys that match no slot of `base` instead of
    ///     failing. A file in which no key matches fails either way.
    public static func read(
        contentsOf url: URL, base: Denoiser, format: AdapterFormat? = nil, allowUnmatched: Bool = false
    ) throws -> ImportedAdapter {
        let resolvedFormat = try format ?? detectFormat(at: url)
        if resolvedFormat == .merged {
            let adapter = try AdapterMerge.extract(mergedFile: url, base: base)
            return ImportedAdapter(adapter: adapter, format: .merged, unmatchedKeys: [], notes: [])
        }
        return try read(contentsOf: url, format: resolvedFormat, slots: base.slots, allowUnmatched: allowUnmatched)
    }

    /// Imports the tensors of a native, PEFT or kohya file.
    ///
    /// - Parameters:
    ///   - slots: the base model's slots. Keys must match them and tensors
    ///     must fit their shapes. With nil the module names come from the
    ///     keys, as `inspect` needs, so kohya names keep their underscores.
    public static func read(
        contentsOf url: URL, format: AdapterFormat?, slots: [SlotDescriptor]?, allowUnmatched: Bool = false
    ) throws -> ImportedAdapter {
        let resolvedFormat = try format ?? detectFormat(at: url)
        guard let scheme = AdapterKeyScheme.of(resolvedFormat) else {
            throw AdapterError.wrongKind(
                file: url.path, found: "a merged denoiser", expected: "an adapter",
                fix: "Import it with 'hyperfield import \(url.path) --base DENOISER', which separates the adapter from the base model")
        }
        var (weightsURL, configurationURL) = (url, URL?.none)
        if resolvedFormat == .peft { (weightsURL, configurationURL) = PEFTFormat.files(at: url) }
        let file = try SafeTensors.read(contentsOf: weightsURL)
        let label = weightsURL.path

        // Group the tensors by slot and role; keys left over are unmatched.
        var groups: [String: [LoRATensorRole: (key: String, tensor: Tensor)]] = [:]
        var unmatched: [String] = []
        let table = try slots.map { try AdapterKeyTable(scheme: scheme, slots: $0.map(\.name)) }
        for (key, tensor) in file.namedTensors {
            let match = table.map { $0.entries[key] } ?? scheme.parse(key).map { (slot: $0.module, role: $0.role) }
            guard let match else {
                unmatched.append(key)
                continue
            }
            groups[match.slot, default: [:]][match.role] = (key, tensor)
        }
        let slotExample = slots?.first.flatMap { scheme.key(slot: $0.name, role: .down) }
        if groups.isEmpty {
            throw AdapterError.noMatchingKeys(file: label, keys: unmatched, slotExample: slotExample)
        }
        if !unmatched.isEmpty && !allowUnmatched {
            throw AdapterError.unmatchedKeys(file: label, keys: unmatched, slotExample: slotExample)
        }

        let configuration = try configurationURL.map { url in
            try PEFTConfiguration(data: Data(contentsOf: url), file: url.path)
        }
        let descriptors = Dictionary(uniqueKeysWithValues: (slots ?? []).map { ($0.name, $0) })
        var adapter = Adapter(metadata: importedMetadata(file.metadata, format: resolvedFormat, url: url))
        var slotsWithoutAlpha: [String] = []
        for (slot, group) in groups {
            let weights = try assemble(
                slot: slot, group: group, scheme: scheme, descriptor: descriptors[slot],
                configuration: configuration, file: label)
            if group[.alpha] == nil && configuration == nil { slotsWithoutAlpha.append(slot) }
            adapter.slots[slot] = weights
        }

        var notes: [String] = []
        if !unmatched.isEmpty {
            notes.append("skipped \(unmatched.count) keys that match no slot: \(unmatched.prefix(5).joined(separator: ", "))")
        }
        if resolvedFormat == .peft && configuration == nil {
            notes.append("no \(PEFTFormat.configurationFileName) next to \(label), so every slot has alpha = rank")
        } else if !slotsWithoutAlpha.isEmpty {
            notes.append("alpha = rank for \(slotsWithoutAlpha.count) of \(groups.count) slots, which store no alpha")
        }
        return ImportedAdapter(adapter: adapter, format: resolvedFormat, unmatchedKeys: unmatched, notes: notes)
    }

    /// Detects the format of the file or PEFT folder at `url`.
    ///
    /// - Throws: `AdapterError.unknownFormat` when metadata and keys fit no
    ///   format; safetensors errors for a file that cannot be read.
    public static func detectFormat(at url: URL) throws -> AdapterFormat {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
            return .peft
        }
        let header = try SafeTensors.readHeader(contentsOf: url)
        guard let format = AdapterFormat.detect(header: header) else {
            throw AdapterError.unknownFormat(file: url.path)
        }
        return format
    }

    /// Builds one slot's weights from its tensors, checking that `A` and `B`
    /// are both present and fit each other and the slot.
    private static func assemble(
        slot: String, group: [LoRATensorRole: (key: String, tensor: Tensor)], scheme: AdapterKeyScheme,
        descriptor: SlotDescriptor?, configuration: PEFTConfiguration?, file: String
    ) throws -> LoRAWeights {
        guard let down = group[.down] else {
            throw AdapterError.missingTensor(file: file, slot: slot, key: scheme.key(slot: slot, role: .down)!)
        }
        guard let up = group[.up] else {
            throw AdapterError.missingTensor(file: file, slot: slot, key: scheme.key(slot: slot, role: .up)!)
        }

        // Rank from the shape of A, then both shapes against the slot.
        let aShape = down.tensor.shape, bShape = up.tensor.shape
        guard aShape.count == 2 || aShape.count == 4, aShape[0] > 0 else {
            throw AdapterError.shapeMismatch(
                file: file, key: down.key, shape: aShape, expected: "[r, in] or [r, in, k, k] with r of at least 1")
        }
        let rank = aShape[0]
        if let descriptor {
            let expectedA = descriptor.aShape(rank: rank), expectedB = descriptor.bShape(rank: rank)
            guard aShape == expectedA else {
                throw AdapterError.shapeMismatch(file: file, key: down.key, shape: aShape, expected: "\(expectedA)")
            }
            guard bShape == expectedB else {
                throw AdapterError.shapeMismatch(file: file, key: up.key, shape: bShape, expected: "\(expectedB) for rank \(rank)")
            }
        } else {
            let fits = aShape.count == 2 ? bShape.count == 2 && bShape[1] == rank : bShape.count == 4 && Array(bShape[1...]) == [rank, 1, 1]
            guard fits else {
                let expected = aShape.count == 2 ? "[out, \(rank)]" : "[out, \(rank), 1, 1]"
                throw AdapterError.shapeMismatch(file: file, key: up.key, shape: bShape, expected: "\(expected) to match A \(aShape)")
            }
        }

        let alpha: Float
        if let stored = group[.alpha] {
            guard stored.tensor.count == 1 else {
                throw AdapterError.invalidAlpha(file: file, key: stored.key, shape: stored.tensor.shape)
            }
            // Kohya's loader reads alpha 0 as alpha = rank.
            let value = stored.tensor.data[0]
            alpha = scheme.format == .kohya && value == 0 ? Float(rank) : value
        } else if let configuration {
            let configuredRank = try configuration.rank(for: slot, file: file)
            guard configuredRank == rank else {
                throw AdapterError.invalidConfiguration(
                    file: file, reason: "slot \(slot) has rank \(configuredRank) in \(PEFTFormat.configurationFileName) but \(rank) in tensor \(down.key). Fix r or rank_pattern")
            }
            alpha = try configuration.alpha(for: slot, rank: rank, file: file)
        } else {
            alpha = Float(rank)
        }
        return LoRAWeights(a: down.tensor.detached(), b: up.tensor.detached(), alpha: alpha)
    }

    /// Selects the metadata that an imported adapter keeps. A native file
    /// keeps its own entries. Other formats keep the HyperField entries that
    /// the exporter carried over, plus where the adapter came from.
    private static func importedMetadata(_ metadata: [String: String], format: AdapterFormat, url: URL) -> [String: String] {
        let carriedKeys: Set<String> = [
            AdapterMetadataKey.baseModelSHA256, AdapterMetadataKey.convergenceState, AdapterMetadataKey.convergenceSteps,
            AdapterMetadataKey.subjectImageCount, AdapterMetadataKey.subjectImageSHA256,
        ]
        var result = format == .native
            ? metadata.filter { !AdapterMetadataKey.computed.contains($0.key) }
            : metadata.filter { carriedKeys.contains($0.key) }
        if format != .native {
            result["imported_from"] = url.lastPathComponent
            result["imported_format"] = format.rawValue
        }
        return result
    }
}
