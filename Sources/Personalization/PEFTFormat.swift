import Diffusion
import Foundation
import TensorCore

/// The PEFT (and diffusers) LoRA format: a folder with
/// `adapter_model.safetensors`, whose keys are
/// `base_model.model.<slot>.lora_A.weight` and `.lora_B.weight`, and
/// `adapter_config.json`, which stores rank and alpha.
///
/// `r` and `lora_alpha` are the most common rank and alpha of the slots.
/// Slots that differ are listed by full module path in `rank_pattern` and
/// `alpha_pattern`. PEFT reads a pattern key as a regular expression that
/// must match the end of a module path after a dot, or the whole path, so a
/// full path selects exactly its own module.
public enum PEFTFormat {
    public static let weightsFileName = "adapter_model.safetensors"
    public static let configurationFileName = "adapter_config.json"

    /// Writes `adapter` into `folder`, which is created if needed. Each file
    /// is written through `AtomicFile`; a crash between the two writes can
    /// leave a folder with only the weights.
    ///
    /// - Returns: the URLs of the two files written.
    /// - Throws: `AdapterError.nonFiniteValue` before anything is written;
    ///   file system and safetensors errors.
    @discardableResult
    public static func write(_ adapter: Adapter, to folder: URL, dtype: SafeTensorsDType = .f32) throws -> [URL] {
        let weightsURL = folder.appendingPathComponent(weightsFileName)
        try checkFinite(adapter, file: weightsURL.path)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)

        // "pt" is the format tag that transformers' loaders require of
        // safetensors files; the adapter's own metadata goes along with it.
        var metadata = adapter.metadata.filter { !AdapterMetadataKey.computed.contains($0.key) }
        metadata[AdapterMetadataKey.format] = "pt"
        try SafeTensors.write(
            AdapterFile.tensors(adapter, scheme: .peft), metadata: metadata, dtype: dtype, to: weightsURL)

        let configurationURL = folder.appendingPathComponent(configurationFileName)
        try AtomicFile.write(PEFTConfiguration(adapter).encoded(), to: configurationURL)
        return [weightsURL, configurationURL]
    }

    /// Returns the weights file and, if there is one, the configuration file
    /// of a PEFT folder or of a weights file inside one.
    static func files(at url: URL) -> (weights: URL, configuration: URL?) {
        var isFolder: ObjCBool = false
        let weights: URL
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), isFolder.boolValue {
            weights = url.appendingPathComponent(weightsFileName)
        } else {
            weights = url
        }
        let configuration = weights.deletingLastPathComponent().appendingPathComponent(configurationFileName)
        return (weights, FileManager.default.fileExists(atPath: configuration.path) ? configuration : nil)
    }
}

/// The fields of PEFT's `adapter_config.json` that HyperField writes and
/// reads. Other fields that PEFT writes (dropout, bias, task type) are
/// written with neutral values and ignored on import.
struct PEFTConfiguration {
    var rank: Int
    var alpha: Float
    var targetModules: [String]
    var rankPattern: [String: Int]
    var alphaPattern: [String: Float]
    /// rsLoRA scales by alpha / √r instead of alpha / r.
    var usesRankStabilizedScaling = false

    /// Builds the configuration of `adapter`, with patterns for the slots
    /// whose rank or alpha differs from the most common one.
    init(_ adapter: Adapter) {
        let ranks = dominantValue(adapter.ranks)
        let alphas = dominantValue(adapter.alphas)
        rank = ranks?.value ?? 0
        alpha = alphas?.value ?? 0
        rankPattern = ranks?.exceptions ?? [:]
        alphaPattern = alphas?.exceptions ?? [:]
        targetModules = adapter.slotNames
    }

    /// Parses `adapter_config.json`.
    ///
    /// - Throws: `AdapterError.invalidConfiguration` naming the field, for
    ///   JSON that is not an object, a missing or mistyped `r`, `lora_alpha`
    ///   or pattern, and for DoRA adapters, which need a magnitude vector
    ///   that HyperField's slots do not have.
    init(data: Data, file: String) throws {
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw AdapterError.invalidConfiguration(file: file, reason: "the file is not a JSON object. Save the adapter again with PEFT's save_pretrained")
        }
        if let type = object["peft_type"] as? String, type.uppercased() != "LORA" {
            throw AdapterError.invalidConfiguration(
                file: file, reason: "peft_type is \(type), but only LORA adapters can be imported")
        }
        if object["use_dora"] as? Bool == true {
            throw AdapterError.invalidConfiguration(
                file: file, reason: "use_dora is true, and DoRA's magnitude vectors have no HyperField slot. Export the adapter without DoRA")
        }
        guard let rankNumber = object["r"] as? NSNumber, rankNumber.doubleValue == Double(rankNumber.intValue),
              case let rank = rankNumber.intValue, rank > 0
        else {
            throw AdapterError.invalidConfiguration(file: file, reason: "\"r\" is missing or not a positive whole number. Set it to the rank, the first extent of the lora_A tensors")
        }
        guard let alpha = (object["lora_alpha"] as? NSNumber)?.floatValue else {
            throw AdapterError.invalidConfiguration(file: file, reason: "\"lora_alpha\" is missing or not a number. Set it to the alpha that the adapter was trained with")
        }
        self.rank = rank
        self.alpha = alpha
        rankPattern = try Self.numbers(object["rank_pattern"], field: "rank_pattern", file: file).mapValues { Int($0) }
        alphaPattern = try Self.numbers(object["alpha_pattern"], field: "alpha_pattern", file: file)
        targetModules = (object["target_modules"] as? [String]) ?? []
        usesRankStabilizedScaling = object["use_rslora"] as? Bool ?? false
    }

    /// Reads a pattern object of numbers; null or absent is empty.
    private static func numbers(_ value: Any?, field: String, file: String) throws -> [String: Float] {
        guard let value, !(value is NSNull) else { return [:] }
        guard let object = value as? [String: Any] else {
            throw AdapterError.invalidConfiguration(file: file, reason: "\"\(field)\" must be an object of module pattern → number")
        }
        var result: [String: Float] = [:]
        for (key, entry) in object {
            guard let number = (entry as? NSNumber)?.floatValue else {
                throw AdapterError.invalidConfiguration(file: file, reason: "\"\(field)\" entry \"\(key)\" is not a number")
            }
            result[key] = number
        }
        return result
    }

    /// Encodes the configuration as pretty-printed JSON with sorted keys.
    func encoded() throws -> Data {
        let object: [String: Any] = [
            "peft_type": "LORA",
            "r": rank,
            "lora_alpha": NSNumber(value: alpha),
            "target_modules": targetModules,
            "rank_pattern": rankPattern,
            "alpha_pattern": alphaPattern.mapValues { NSNumber(value: $0) },
            "lora_dropout": 0,
            "bias": "none",
            "fan_in_fan_out": false,
            "init_lora_weights": true,
            "inference_mode": true,
            "use_rslora": usesRankStabilizedScaling,
            "use_dora": false,
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8)
    }

    /// Returns the rank that PEFT gives `slot`.
    func rank(for slot: String, file: String) throws -> Int {
        try Self.lookUp(slot, in: rankPattern, file: file) ?? rank
    }

    /// Returns the alpha of `slot` in HyperField's convention, where the
    /// scale is alpha / r. An rsLoRA alpha is converted, because
    /// alpha / √r = (alpha·√r) / r.
    func alpha(for slot: String, rank slotRank: Int, file: String) throws -> Float {
        let stored = try Self.lookUp(slot, in: alphaPattern, file: file) ?? alpha
        return usesRankStabilizedScaling ? stored * Float(slotRank).squareRoot() : stored
    }

    /// Returns the value of the pattern that selects `slot`. An exact module
    /// path wins, else the first key in sorted order that matches the way
    /// PEFT matches it (`(.*\.)?<key>$`).
    private static func lookUp<Value>(_ slot: String, in pattern: [String: Value], file: String) throws -> Value? {
        if let exact = pattern[slot] { return exact }
        for key in pattern.keys.sorted() {
            let expression: NSRegularExpression
            do {
                expression = try NSRegularExpression(pattern: "^(.*\\.)?(?:\(key))$")
            } catch {
                throw AdapterError.invalidConfiguration(file: file, reason: "pattern \"\(key)\" is not a valid regular expression")
            }
            let range = NSRange(slot.startIndex..., in: slot)
            if expression.firstMatch(in: slot, range: range) != nil { return pattern[key] }
        }
        return nil
    }
}
