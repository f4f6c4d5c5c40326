/// A failure of adapter export, import or merging, with one case per problem.
///
/// `file` is the path of the file read or written. Each `description` names
/// the file, the key or value that failed, and what to do about it.
public enum AdapterError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A slot's `A`, `B` or alpha contains NaN or infinity, so the adapter is
    /// not written.
    case nonFiniteValue(file: String, slot: String, tensor: String)
    /// Merging gave a NaN or infinite weight.
    case nonFiniteMerge(file: String, slot: String)
    /// Keys of the file that match no slot of the base model. `slotExample`
    /// is a key that the format gives one of the base model's slots.
    case unmatchedKeys(file: String, keys: [String], slotExample: String?)
    /// No key of the file matches any slot, so the file gives no adapter.
    case noMatchingKeys(file: String, keys: [String], slotExample: String?)
    /// A slot has one of `A` and `B` but not the other.
    case missingTensor(file: String, slot: String, key: String)
    /// A tensor's shape does not fit the slot it is stored for.
    case shapeMismatch(file: String, key: String, shape: [Int], expected: String)
    /// An alpha tensor has more than one element.
    case invalidAlpha(file: String, key: String, shape: [Int])
    /// The file's metadata and keys fit no known format.
    case unknownFormat(file: String)
    /// The file is of another kind than the operation needs.
    case wrongKind(file: String, found: String, expected: String, fix: String)
    /// Two slots map to the same key in a format whose names lose
    /// information (kohya writes dots as underscores).
    case keyCollision(format: AdapterFormat, key: String, slots: [String])
    /// The PEFT `adapter_config.json` is unreadable or contradicts the
    /// tensors.
    case invalidConfiguration(file: String, reason: String)
    /// The adapter names a slot that the base model does not have, or whose
    /// shape differs.
    case slotNotInBase(slot: String, reason: String)
    /// A merged export was requested without a base model.
    case baseModelRequired(file: String)
    /// A merged export was requested in another dtype than F32.
    case mergedDTypeNotF32(file: String, dtype: String)
    /// A merged file's non-slot weights differ from the base model given.
    case mergedBaseMismatch(file: String, parameter: String, maxDifference: Float)
    /// A `--slots` pattern matches no slot of the adapter.
    case noSlotsMatch(pattern: String, slotExample: String?)
    /// Another convergence state was requested from a source that stores
    /// only one. `option` is the option as given, such as `--step 0.5` or
    /// `--trajectory`.
    case singleState(source: String, option: String)
    /// A requested convergence state lies outside `0...S`.
    case stepOutOfRange(request: String, totalSteps: Int)

    public var description: String {
        switch self {
        case let .nonFiniteValue(file, slot, tensor):
            return "\(file): not written, because \(tensor) of slot \(slot) contains NaN or infinity. "
                + "Export the adapter from an earlier convergence state or retrain it with a lower learning rate"
        case let .nonFiniteMerge(file, slot):
            return "\(file): not written, because merging the adapter into slot \(slot) gives NaN or infinite "
                + "weights. Lower --scale or check the adapter with 'hyperfield inspect'"
        case let .unmatchedKeys(file, keys, slotExample):
            return "\(file): \(keys.count) keys match no slot of the base model: \(Self.preview(keys))"
                + Self.slotHint(slotExample)
                + ". Pass the base model that the adapter was made for, or --allow-unmatched to skip these keys"
        case let .noMatchingKeys(file, keys, slotExample):
            return "\(file): none of its \(keys.count) keys matches a slot of the base model "
                + "(\(Self.preview(keys)))" + Self.slotHint(slotExample)
                + ". Pass the base model that the adapter was made for, or --format if the format was misdetected"
        case let .missingTensor(file, slot, key):
            return "\(file): slot \(slot) has no tensor \(key), and a slot needs both A and B. "
                + "The file is incomplete; export it again"
        case let .shapeMismatch(file, key, shape, expected):
            return "\(file): tensor \(key) has shape \(shape), but the slot needs \(expected). "
                + "Pass the base model that the adapter was made for"
        case let .invalidAlpha(file, key, shape):
            return "\(file): alpha \(key) has shape \(shape), but an alpha is one number (shape [] or [1]). "
                + "Store one value per slot"
        case let .unknownFormat(file):
            return "\(file): cannot tell the adapter format from its metadata and keys. "
                + "If it is an adapter, convert it with `hyperfield import --format native|peft|kohya|merged`"
        case let .wrongKind(file, found, expected, fix):
            return "\(file): expected \(expected), but the file is \(found). \(fix)"
        case let .keyCollision(format, key, slots):
            return "slots \(slots.joined(separator: " and ")) both map to the \(format.rawValue) key \(key). "
                + "Export the slots separately with --slots, or choose another format"
        case let .invalidConfiguration(file, reason):
            return "\(file): invalid PEFT adapter configuration: \(reason)"
        case let .slotNotInBase(slot, reason):
            return "adapter slot \(slot) \(reason). Pass the base model that the adapter was made for"
        case let .baseModelRequired(file):
            return "\(file): a merged export needs the base denoiser to fuse the adapter into. "
                + "Pass --base with the denoiser that the adapter was made for"
        case let .mergedDTypeNotF32(file, dtype):
            return "\(file): a merged denoiser is stored in F32, as every denoiser file is, not in \(dtype). "
                + "Leave out --dtype for merged exports"
        case let .mergedBaseMismatch(file, parameter, maxDifference):
            return "\(file): parameter \(parameter) differs from the base model by up to \(maxDifference), "
                + "but merging changes only slot weights. Pass the base model that the file was merged into"
        case let .noSlotsMatch(pattern, slotExample):
            let hint = slotExample.map { " (slots are named like \($0))" } ?? ""
            return "slot pattern '\(pattern)' matches no slot of the adapter\(hint). "
                + "Use * for any run of characters, as in 'mid.*'"
        case let .singleState(source, option):
            let name = option.split(separator: " ").first.map(String.init) ?? option
            return "\(source) stores a single convergence state, so \(option) has no other state to export. "
                + "Leave out \(name) to export the stored state; other convergence states need a hypernetwork field"
        case let .stepOutOfRange(request, totalSteps):
            return "convergence state \(request) is outside the trajectory of \(totalSteps) steps. "
                + "Give a fraction between 0 and 1 with a decimal point (0.5) or a whole step from 0 to \(totalSteps)"
        }
    }

    /// Lists the first five keys and counts the rest.
    private static func preview(_ keys: [String]) -> String {
        let listed = keys.prefix(5).joined(separator: ", ")
        return keys.count > 5 ? listed + " and \(keys.count - 5) more" : listed
    }

    private static func slotHint(_ slotExample: String?) -> String {
        slotExample.map { "; keys for the base model's slots look like \($0)" } ?? ""
    }
}
