/// Base class of layers and models: owns named parameters and child modules,
/// so that a model's parameters form one flat dictionary of dotted names
/// (`down.1.res.0.conv1.weight`) that round-trips through safetensors.
///
/// Subclasses create their parameters with `parameter(_:_:)` and their
/// children with `child(_:_:)` in `init`, in a fixed order, which is the order
/// of `namedParameters()`.
open class Module {
    private var ownParameters: [(name: String, tensor: Tensor)] = []
    private var children: [(name: String, module: Module)] = []

    public init() {}

    /// Registers a trainable parameter under `name` and returns it.
    @discardableResult
    public func parameter(_ name: String, _ tensor: Tensor) -> Tensor {
        precondition(!name.contains("."), "parameter: local name \(name) must not contain a dot")
        precondition(
            !ownParameters.contains { $0.name == name } && !children.contains { $0.name == name },
            "parameter: name \(name) is already registered")
        tensor.requiresGrad = true
        tensor.name = name
        ownParameters.append((name, tensor))
        return tensor
    }

    /// Registers a child module under `name` and returns it.
    @discardableResult
    public func child<M: Module>(_ name: String, _ module: M) -> M {
        precondition(!name.contains("."), "child: local name \(name) must not contain a dot")
        precondition(
            !ownParameters.contains { $0.name == name } && !children.contains { $0.name == name },
            "child: name \(name) is already registered")
        children.append((name, module))
        return module
    }

    /// Every parameter of this module and its descendants, with dotted names,
    /// in registration order.
    public func namedParameters(prefix: String = "") -> [(name: String, tensor: Tensor)] {
        var result: [(name: String, tensor: Tensor)] = []
        for (name, tensor) in ownParameters {
            result.append((prefix + name, tensor))
        }
        for (name, module) in children {
            result.append(contentsOf: module.namedParameters(prefix: prefix + name + "."))
        }
        return result
    }

    /// Parameters that currently require gradients.
    public func trainableParameters() -> [(name: String, tensor: Tensor)] {
        namedParameters().filter { $0.tensor.requiresGrad }
    }

    /// Total number of parameter elements.
    public var parameterCount: Int {
        namedParameters().reduce(0) { $0 + $1.tensor.count }
    }

    /// Makes parameters whose dotted name matches the glob `pattern` (`*` any
    /// run of characters including dots, `?` one character) trainable or
    /// frozen. Returns how many parameters matched.
    @discardableResult
    public func setTrainable(_ trainable: Bool, matching pattern: String = "*") -> Int {
        var matched = 0
        for (name, tensor) in namedParameters() where globMatches(pattern, name) {
            tensor.requiresGrad = trainable
            matched += 1
        }
        return matched
    }

    /// Copies values from `tensors` into the parameters with the same dotted
    /// names. The parameter objects stay the same, so optimizers holding them
    /// keep working.
    ///
    /// - Throws: `TensorCoreError.missingParameter` when a parameter has no
    ///   entry, or, with `strict`, when an entry matches no parameter;
    ///   `TensorCoreError.shapeMismatch` when shapes differ.
    public func load(_ tensors: [String: Tensor], strict: Bool = true) throws {
        let named = namedParameters()
        for (name, parameter) in named {
            guard let source = tensors[name] else {
                throw TensorCoreError.missingParameter("parameter \(name) is missing from the loaded weights")
            }
            guard source.shape == parameter.shape else {
                throw TensorCoreError.shapeMismatch(
                    "parameter \(name) has shape \(parameter.shape) in the model but \(source.shape) in the loaded weights")
            }
            parameter.data = source.data
        }
        if strict {
            let known = Set(named.map { $0.name })
            let unknown = tensors.keys.filter { !known.contains($0) }.sorted()
            if !unknown.isEmpty {
                let preview = unknown.prefix(5).joined(separator: ", ")
                throw TensorCoreError.missingParameter(
                    "\(unknown.count) loaded tensors match no parameter of the model (\(preview))")
            }
        }
    }

    /// Clears the gradients of every parameter.
    public func zeroGrad() {
        for (_, tensor) in namedParameters() { tensor.grad = nil }
    }
}

/// Glob match over whole strings: `*` matches any run of characters
/// (including none and including dots), `?` exactly one.
public func globMatches(_ pattern: String, _ text: String) -> Bool {
    let p = Array(pattern), t = Array(text)
    var pi = 0, ti = 0
    var starIndex = -1, matchIndex = 0
    while ti < t.count {
        if pi < p.count && (p[pi] == "?" || p[pi] == t[ti]) {
            pi += 1
            ti += 1
        } else if pi < p.count && p[pi] == "*" {
            starIndex = pi
            matchIndex = ti
            pi += 1
        } else if starIndex >= 0 {
            pi = starIndex + 1
            matchIndex += 1
            ti = matchIndex
        } else {
            return false
        }
    }
    while pi < p.count && p[pi] == "*" { pi += 1 }
    return pi == p.count
}
