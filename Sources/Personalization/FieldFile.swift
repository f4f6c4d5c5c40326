import Diffusion
import Foundation
import TensorCore

extension ModelFile {
    /// Loads a hypernetwork field with its configuration from `url`.
    public static func loadField(from url: URL) throws -> (field: HypernetworkField, metadata: [String: String]) {
        let (configuration, tensors, metadata) = try read(FieldConfiguration.self, kind: "field", from: url)
        if let problem = configuration.validationError() {
            throw LoadError(description: "\(url.path): invalid field configuration: \(problem)")
        }
        let field = HypernetworkField(configuration)
        try field.load(tensors)
        return (field, metadata)
    }
}
