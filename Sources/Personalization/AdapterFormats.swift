import Foundation
import TensorCore

/// File formats that adapters are exported to and imported from.
public enum AdapterFormat: String, CaseIterable, Codable, Sendable {
    /// HyperField's own file: `<slot>.lora_A.weight`, `<slot>.lora_B.weight`
    /// and `<slot>.alpha`, with the adapter's metadata.
    case native
    /// PEFT and diffusers: a folder with `adapter_model.safetensors`
    /// (`base_model.model.<slot>.lora_A.weight`, `.lora_B.weight`) and
    /// `adapter_config.json`, which stores rank and alpha.
    case peft
    /// kohya sd-scripts: `lora_unet_<slot with dots as underscores>` with
    /// `.lora_down.weight`, `.lora_up.weight` and a rank-0 `.alpha`.
    case kohya
    /// A whole denoiser with the adapter fused into its weights.
    case merged
}

/// The tensor of a slot that a key names.
public enum LoRATensorRole: String, CaseIterable, Sendable {
    /// `A`: `[r, in]`, or `[r, in, k, k]` for a convolution (PEFT `lora_A`,
    /// kohya `lora_down`).
    case down
    /// `B`: `[out, r]`, or `[out, r, 1, 1]` for a convolution (PEFT
    /// `lora_B`, kohya `lora_up`).
    case up
    /// Alpha, one number; the slot's scale is alpha / rank.
    case alpha
}

/// The naming of a slot's tensors in one format.
///
/// `key(slot:role:)` gives the key of a model slot. `parse` splits a key into
/// the format's module name and role without knowing the model, as `inspect`
/// needs. Kohya's module names lose the dots, so only a table built from the
/// model's slot names (`AdapterKeyTable`) recovers the slot name.
struct AdapterKeyScheme {
    let format: AdapterFormat
    /// Prefix before the module name.
    let prefix: String
    /// Suffix after the module name, per role. A role without a suffix is not
    /// stored in the tensors (PEFT keeps alpha in its configuration).
    let suffixes: [(role: LoRATensorRole, suffix: String)]
    /// Whether the module name is written with dots as underscores.
    let underscoresDots: Bool

    static let native = AdapterKeyScheme(
        format: .native, prefix: "",
        suffixes: [(.down, ".lora_A.weight"), (.up, ".lora_B.weight"), (.alpha, ".alpha")],
        underscoresDots: false)
    static let peft = AdapterKeyScheme(
        format: .peft, prefix: "base_model.model.",
        suffixes: [(.down, ".lora_A.weight"), (.up, ".lora_B.weight")],
        underscoresDots: false)
    static let kohya = AdapterKeyScheme(
        format: .kohya, prefix: "lora_unet_",
        suffixes: [(.down, ".lora_down.weight"), (.up, ".lora_up.weight"), (.alpha, ".alpha")],
        underscoresDots: true)

    /// Returns the scheme of a tensor format, or nil for `merged`, which
    /// stores whole weights.
    static func of(_ format: AdapterFormat) -> AdapterKeyScheme? {
        switch format {
        case .native: return .native
        case .peft: return .peft
        case .kohya: return .kohya
        case .merged: return nil
        }
    }

    /// Returns the module name that this format writes for `slot`.
    func moduleName(_ slot: String) -> String {
        underscoresDots ? slot.replacingOccurrences(of: ".", with: "_") : slot
    }

    /// Key of `role` of `slot`, or nil when the format does not store it.
    func key(slot: String, role: LoRATensorRole) -> String? {
        guard let suffix = suffixes.first(where: { $0.role == role })?.suffix else { return nil }
        return prefix + moduleName(slot) + suffix
    }

    /// Splits `key` into the format's module name and the role, or returns
    /// nil when the key does not have this format's prefix and one of its
    /// suffixes. The suffixes are matched at the end of the key only, so a
    /// module path that itself contains `weight` or `lora_` parses whole.
    func parse(_ key: String) -> (module: String, role: LoRATensorRole)? {
        guard key.hasPrefix(prefix) else { return nil }
        for (role, suffix) in suffixes where key.hasSuffix(suffix) {
            let module = key.dropFirst(prefix.count).dropLast(suffix.count)
            guard !module.isEmpty else { return nil }
            if underscoresDots && module.contains(".") { return nil }
            return (String(module), role)
        }
        return nil
    }
}

/// Every key that a format gives the slots of one model, mapped back to its
/// slot and role, so that import converts keys by lookup and reports every
/// key that is left over.
struct AdapterKeyTable {
    let scheme: AdapterKeyScheme
    let entries: [String: (slot: String, role: LoRATensorRole)]

    /// - Throws: `AdapterError.keyCollision` when two slots get the same key,
    ///   which kohya's underscored names allow (`a_b.c` and `a.b_c`).
    init(scheme: AdapterKeyScheme, slots: [String]) throws {
        var entries: [String: (slot: String, role: LoRATensorRole)] = [:]
        for slot in slots.sorted() {
            for role in LoRATensorRole.allCases {
                guard let key = scheme.key(slot: slot, role: role) else { continue }
                if let other = entries[key], other.slot != slot {
                    throw AdapterError.keyCollision(format: scheme.format, key: key, slots: [other.slot, slot])
                }
                entries[key] = (slot, role)
            }
        }
        self.scheme = scheme
        self.entries = entries
    }
}

extension AdapterFormat {
    /// Finds the format of a safetensors file from its header, or returns nil
    /// when the header fits no format.
    ///
    /// The `format` metadata of HyperField files decides first, then the key
    /// prefixes `lora_unet_` or `lora_te` (kohya) and `base_model.model.`
    /// (PEFT), then native suffixes.
    static func detect(header: SafeTensorsHeader) -> AdapterFormat? {
        switch header.metadata["format"] {
        case AdapterFile.formatName: return .native
        case AdapterMerge.denoiserFormatName: return .merged
        default: break
        }
        let names = header.entries.map(\.name)
        if names.contains(where: { $0.hasPrefix("lora_unet_") || $0.hasPrefix("lora_te") }) { return .kohya }
        if names.contains(where: { $0.hasPrefix(AdapterKeyScheme.peft.prefix) }) { return .peft }
        if names.contains(where: { AdapterKeyScheme.native.parse($0) != nil }) { return .native }
        return nil
    }
}

/// Returns the most common value of `values` and the entries that differ
/// from it, as PEFT's `r` and `rank_pattern` store ranks. Among equally
/// common values the smallest wins.
func dominantValue<Value: Hashable & Comparable>(_ values: [String: Value]) -> (value: Value, exceptions: [String: Value])? {
    var counts: [Value: Int] = [:]
    for value in values.values { counts[value, default: 0] += 1 }
    guard let dominant = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key })?.key else {
        return nil
    }
    return (dominant, values.filter { $0.value != dominant })
}
