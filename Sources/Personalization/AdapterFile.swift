import Diffusion
import Foundation
import TensorCore

/// Metadata keys of adapter files. Values are strings, as safetensors
/// metadata requires.
public enum AdapterMetadataKey {
    /// `hyperfield.adapter` in native files.
    public static let format = "format"
    public static let engineVersion = "engine_version"
    /// SHA-256 of the base denoiser file, as lowercase hex.
    public static let baseModelSHA256 = "base_model_sha256"
    /// The most common rank of the slots.
    public static let rank = "rank"
    /// The most common alpha of the slots.
    public static let alpha = "alpha"
    /// JSON object of slot name → rank for slots whose rank differs from `rank`.
    public static let rankPattern = "rank_pattern"
    /// JSON object of slot name → alpha for slots whose alpha differs from `alpha`.
    public static let alphaPattern = "alpha_pattern"
    /// The convergence state `s`, in steps, that the adapter stands for.
    public static let convergenceState = "convergence_state"
    /// `S`, the steps of the whole trajectory.
    public static let convergenceSteps = "convergence_steps"
    /// Number of images of the subject.
    public static let subjectImageCount = "subject_image_count"
    /// SHA-256 of each subject image, comma-separated.
    public static let subjectImageSHA256 = "subject_image_sha256"

    /// Keys that writers compute from the tensors, so they are never copied
    /// from an adapter's metadata.
    static let computed: Set<String> = [format, engineVersion, rank, alpha, rankPattern, alphaPattern]
}

extension Adapter {
    /// The convergence state `s` from the metadata, or nil.
    public var convergenceState: Int? { metadata[AdapterMetadataKey.convergenceState].flatMap { Int($0) } }

    /// `S` from the metadata, or nil.
    public var convergenceSteps: Int? { metadata[AdapterMetadataKey.convergenceSteps].flatMap { Int($0) } }

    /// Slot name → rank.
    var ranks: [String: Int] { slots.mapValues(\.rank) }

    /// Slot name → alpha.
    var alphas: [String: Float] { slots.mapValues(\.alpha) }
}

/// The native adapter file: per slot `<slot>.lora_A.weight`,
/// `<slot>.lora_B.weight` and a rank-0 `<slot>.alpha`, plus metadata with the
/// base model hash, rank, alpha, the convergence state `s` and `S`, and the
/// subject's image count and hashes (`AdapterMetadataKey`).
public enum AdapterFile {
    /// Value of the `format` metadata.
    public static let formatName = "hyperfield.adapter"

    /// Writes `adapter` to `url` through `AtomicFile`.
    ///
    /// - Parameter dtype: `.f32`, or `.f16` and `.bf16`, which round every
    ///   value, alpha included, to the nearest representable one.
    /// - Throws: `AdapterError.nonFiniteValue` before anything is written
    ///   when a value is NaN or infinite; errors of the safetensors writer.
    public static func write(_ adapter: Adapter, to url: URL, dtype: SafeTensorsDType = .f32) throws {
        try checkFinite(adapter, file: url.path)
        try SafeTensors.write(
            tensors(adapter, scheme: .native), metadata: metadata(adapter), dtype: dtype, to: url)
    }

    /// Reads a native adapter file. Slot names are taken from the keys, so no
    /// base model is needed.
    ///
    /// - Throws: `AdapterError.wrongKind` for a file of another format, which
    ///   `hyperfield import` converts; any error of `AdapterImport`.
    public static func read(contentsOf url: URL) throws -> Adapter {
        let imported = try AdapterImport.read(contentsOf: url, format: nil, slots: nil)
        guard imported.format == .native else {
            throw AdapterError.wrongKind(
                file: url.path, found: "a \(imported.format.rawValue) adapter", expected: "a HyperField adapter file",
                fix: "Convert it first with 'hyperfield import \(url.path) --base DENOISER --output ADAPTER'")
        }
        return imported.adapter
    }

    /// Returns the tensors of `adapter` under the keys of `scheme`, sorted by
    /// slot. Alpha is a rank-0 tensor where the scheme stores it.
    static func tensors(_ adapter: Adapter, scheme: AdapterKeyScheme) -> [(name: String, tensor: Tensor)] {
        var result: [(name: String, tensor: Tensor)] = []
        for name in adapter.slotNames {
            let weights = adapter.slots[name]!
            result.append((scheme.key(slot: name, role: .down)!, weights.a.detached()))
            result.append((scheme.key(slot: name, role: .up)!, weights.b.detached()))
            if let alphaKey = scheme.key(slot: name, role: .alpha) {
                result.append((alphaKey, Tensor(scalar: weights.alpha)))
            }
        }
        return result
    }

    /// The adapter's own metadata, with format, engine version, rank and
    /// alpha recomputed from the slots.
    static func metadata(_ adapter: Adapter) -> [String: String] {
        var result = adapter.metadata.filter { !AdapterMetadataKey.computed.contains($0.key) }
        result[AdapterMetadataKey.format] = formatName
        result[AdapterMetadataKey.engineVersion] = ModelFile.engineVersion
        if let (rank, exceptions) = dominantValue(adapter.ranks) {
            result[AdapterMetadataKey.rank] = String(rank)
            if !exceptions.isEmpty { result[AdapterMetadataKey.rankPattern] = compactJSON(exceptions) }
        }
        if let (alpha, exceptions) = dominantValue(adapter.alphas) {
            result[AdapterMetadataKey.alpha] = formatNumber(alpha)
            if !exceptions.isEmpty { result[AdapterMetadataKey.alphaPattern] = compactJSON(exceptions) }
        }
        return result
    }
}

/// Throws `AdapterError.nonFiniteValue` for the first slot, in name order,
/// whose `A`, `B` or alpha contains NaN or infinity.
func checkFinite(_ adapter: Adapter, file: String) throws {
    for name in adapter.slotNames {
        let weights = adapter.slots[name]!
        if !weights.alpha.isFinite { throw AdapterError.nonFiniteValue(file: file, slot: name, tensor: "alpha") }
        if !weights.a.data.allSatisfy(\.isFinite) { throw AdapterError.nonFiniteValue(file: file, slot: name, tensor: "A") }
        if !weights.b.data.allSatisfy(\.isFinite) { throw AdapterError.nonFiniteValue(file: file, slot: name, tensor: "B") }
    }
}

/// Formats a Float as the shortest text that reads back to the same value,
/// without a fraction for whole numbers ("4", "0.7").
func formatNumber(_ value: Float) -> String {
    if value == value.rounded(), abs(value) < 1e7 { return String(Int(value)) }
    return "\(value)"
}

/// Compact JSON with sorted keys, so that the same value always gives the
/// same text. Floats are written in their shortest form ("4", "0.7").
func compactJSON<Value: Encodable>(_ value: Value) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    // Ints, Floats and Strings always encode, and callers pass finite values.
    return String(decoding: try! encoder.encode(value), as: UTF8.self)
}
