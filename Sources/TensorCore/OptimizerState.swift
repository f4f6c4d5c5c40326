// Checkpoint form of optimizer and EMA state: tensors keyed
// `<prefix><buffer>.<parameter name>` plus string metadata. The helpers here
// parse and validate that form. Each owner (Adam, SGD, EMA) states its keys.

/// Formats a hyperparameter for metadata. `Float.description` is the shortest
/// decimal that parses back to the same bits, which exact continuation needs.
func metadataString(_ value: Float) -> String {
    value.description
}

/// Typed, validated reads from checkpoint metadata. Errors name the owner and
/// the key.
struct StateMetadataReader {
    let metadata: [String: String]
    /// Label for messages, such as "Adam state".
    let owner: String

    func string(_ key: String) throws -> String {
        guard let value = metadata[key] else {
            throw TensorCoreError.invalidState(
                "\(owner): metadata key \(key) is missing; restore with the metadata saved together with the state tensors")
        }
        return value
    }

    func float(_ key: String) throws -> Float {
        let text = try string(key)
        guard let value = Float(text), value.isFinite else {
            throw TensorCoreError.invalidState("\(owner): metadata \(key) = \"\(text)\" is not a finite number")
        }
        return value
    }

    func count(_ key: String) throws -> Int {
        let text = try string(key)
        guard let value = Int(text), value >= 0 else {
            throw TensorCoreError.invalidState("\(owner): metadata \(key) = \"\(text)\" is not a non-negative integer")
        }
        return value
    }

    func bool(_ key: String) throws -> Bool {
        let text = try string(key)
        switch text {
        case "true": return true
        case "false": return false
        default:
            throw TensorCoreError.invalidState("\(owner): metadata \(key) = \"\(text)\" is not true or false")
        }
    }

    /// Throws unless `key` contains `expected`, the type name that wrote the
    /// state.
    func requireType(_ key: String, _ expected: String) throws {
        let found = try string(key)
        guard found == expected else {
            throw TensorCoreError.invalidState(
                "\(owner): the saved state was written by \(found), not \(expected); construct a \(found) optimizer to restore it")
        }
    }
}

/// Maps parameter names to their position in an optimizer's parameter list,
/// and matches checkpoint keys against those names.
struct ParameterIndex {
    let parameters: [(name: String, tensor: Tensor)]
    private let positions: [String: Int]

    init(_ parameters: [(name: String, tensor: Tensor)], owner: String) {
        checkUniqueNames(parameters, owner: owner)
        self.parameters = parameters
        var positions: [String: Int] = [:]
        for (index, entry) in parameters.enumerated() {
            positions[entry.name] = index
        }
        self.positions = positions
    }

    /// Saved tensors under `<prefix><parameter name>`, as parameter position
    /// → values. Keys outside `prefix` are ignored.
    ///
    /// - Throws: `missingParameter` when the parameter name is unknown,
    ///   `shapeMismatch` when the tensor's shape differs from the parameter's.
    func savedTensors(_ tensors: [String: Tensor], prefix: String, owner: String) throws -> [Int: [Float]] {
        var result: [Int: [Float]] = [:]
        // Sorted, so that the first error reported does not depend on
        // dictionary order.
        for key in tensors.keys.sorted() where key.hasPrefix(prefix) {
            let name = String(key.dropFirst(prefix.count))
            let position = try position(of: name, key: key, owner: owner)
            let saved = tensors[key]!
            let parameter = parameters[position].tensor
            guard saved.shape == parameter.shape else {
                throw TensorCoreError.shapeMismatch(
                    "\(owner): saved tensor \(key) has shape \(saved.shape) but parameter \(name) has shape \(parameter.shape); the state was saved for a different model")
            }
            result[position] = saved.data
        }
        return result
    }

    /// Saved tensors under `<prefix><buffer>.<parameter name>` for each of
    /// `buffers`, as buffer → parameter position → values. Keys outside
    /// `prefix` are ignored.
    ///
    /// - Throws: `invalidState` for a key under `prefix` with an unknown
    ///   buffer, and the errors of `savedTensors`.
    func savedBuffers(
        _ tensors: [String: Tensor], prefix: String, buffers: [String], owner: String
    ) throws -> [String: [Int: [Float]]] {
        let bufferPrefixes = buffers.map { prefix + $0 + "." }
        for key in tensors.keys.sorted() where key.hasPrefix(prefix) {
            guard bufferPrefixes.contains(where: { key.hasPrefix($0) }) else {
                throw TensorCoreError.invalidState(
                    "\(owner): saved tensor \(key) is none of the expected buffers \(bufferPrefixes.map { $0 + "<parameter>" })")
            }
        }
        var result: [String: [Int: [Float]]] = [:]
        for (buffer, bufferPrefix) in zip(buffers, bufferPrefixes) {
            result[buffer] = try savedTensors(tensors, prefix: bufferPrefix, owner: owner)
        }
        return result
    }

    /// Saved per-parameter counts under `<prefix><parameter name>` in
    /// `metadata`, as parameter position → count.
    func savedCounts(_ metadata: [String: String], prefix: String, owner: String) throws -> [Int: Int] {
        let reader = StateMetadataReader(metadata: metadata, owner: owner)
        var result: [Int: Int] = [:]
        for key in metadata.keys.sorted() where key.hasPrefix(prefix) {
            let name = String(key.dropFirst(prefix.count))
            result[try position(of: name, key: key, owner: owner)] = try reader.count(key)
        }
        return result
    }

    private func position(of name: String, key: String, owner: String) throws -> Int {
        guard let position = positions[name] else {
            throw TensorCoreError.missingParameter(
                "\(owner): saved entry \(key) names parameter \(name), which is not among the \(parameters.count) parameters given; pass the parameters of the saved run")
        }
        return position
    }
}
