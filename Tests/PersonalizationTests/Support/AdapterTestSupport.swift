import Diffusion
import Foundation
import TensorCore
import XCTest

/// Returns the configuration of a denoiser small enough for fast tests:
/// 2×8×8 latents, two levels, attention at level 1 and in the middle.
func tinyDenoiserConfiguration(convolutionSlots: Bool = false) -> DenoiserConfiguration {
    var configuration = DenoiserConfiguration()
    configuration.latentChannels = 2
    configuration.latentSize = 8
    configuration.channels = [8, 16]
    configuration.attentionLevels = [1]
    configuration.heads = 2
    configuration.groups = 4
    configuration.contextWidth = 8
    configuration.convolutionSlots = convolutionSlots
    return configuration
}

/// Builds a tiny denoiser and gives its zero-initialized layers small random
/// weights, so that every slot affects the output.
func makeTinyDenoiser(convolutionSlots: Bool = false, seed: UInt64 = 1) -> Denoiser {
    let denoiser = Denoiser(tinyDenoiserConfiguration(convolutionSlots: convolutionSlots), seed: seed)
    var rng = SeededGenerator(seed: seed + 1000)
    for (_, tensor) in denoiser.namedParameters() where tensor.data.allSatisfy({ $0 == 0 }) {
        tensor.data = (0..<tensor.count).map { _ in rng.normal() * 0.1 }
    }
    return denoiser
}

/// Builds an adapter for `slots` with random `A` and random, non-zero `B`.
func makeRandomAdapter(
    for slots: [SlotDescriptor], rank: Int, alpha: Float, seed: UInt64, upScale: Float = 0.2
) -> Adapter {
    var rng = SeededGenerator(seed: seed)
    var adapter = Adapter.initial(for: slots, rank: rank, alpha: alpha, rng: &rng)
    for name in adapter.slotNames {
        adapter.slots[name]!.b = rng.normalTensor(adapter.slots[name]!.b.shape, scale: upScale)
    }
    adapter.metadata = [
        "convergence_state": "40", "convergence_steps": "40",
        "subject_image_count": "3", "subject_image_sha256": "aa,bb,cc",
    ]
    return adapter
}

/// Slot descriptors with made-up names, for key tests that need no model.
func linearSlot(_ name: String, inFeatures: Int = 6, outFeatures: Int = 5) -> SlotDescriptor {
    SlotDescriptor(name: name, kind: .linear, inFeatures: inFeatures, outFeatures: outFeatures, kernel: 1)
}

/// Predicted noise of `denoiser` on fixed latents, timesteps and conditions.
func denoiserOutput(_ denoiser: Denoiser, adapter: Adapter?) -> [Float] {
    var rng = SeededGenerator(seed: 77)
    let configuration = denoiser.configuration
    let z = rng.normalTensor([2, configuration.latentChannels, configuration.latentSize, configuration.latentSize])
    let conditions = [Condition(classIndex: 0), Condition(classIndex: 2, hasIdentifier: false)]
    return GradMode.withoutGradients {
        denoiser(z, timesteps: [10, 700], conditions: conditions, adapter: adapter).data
    }
}

/// Largest absolute difference between two equally long arrays.
func maxAbsoluteDifference(_ left: [Float], _ right: [Float]) -> Float {
    precondition(left.count == right.count, "maxAbsoluteDifference: \(left.count) and \(right.count) elements")
    return zip(left, right).reduce(0) { max($0, abs($1.0 - $1.1)) }
}

/// `(alpha / r)·B·A` of one slot, flattened, computed in Double.
func slotUpdate(_ weights: LoRAWeights) -> [Double] {
    let rank = weights.rank
    let out = weights.b.shape[0]
    let columns = weights.a.count / rank
    var result = [Double](repeating: 0, count: out * columns)
    for row in 0..<out {
        for inner in 0..<rank {
            let up = Double(weights.b.data[row * rank + inner])
            for column in 0..<columns {
                result[row * columns + column] += up * Double(weights.a.data[inner * columns + column])
            }
        }
    }
    let scale = Double(weights.alpha) / Double(rank)
    return result.map { $0 * scale }
}

/// Creates a temporary folder that is deleted when the test ends.
func makeTemporaryFolder(_ testCase: XCTestCase) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hyperfield-adapter-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
    return folder
}

/// One tensor of a hand-made safetensors file, in any dtype.
struct RawTensor {
    let name: String
    let dtype: SafeTensorsDType
    let shape: [Int]
    let values: [Double]
}

/// Encodes tensors of mixed dtypes as safetensors bytes, which the engine's
/// writer cannot do because it stores one dtype per file.
func encodeSafeTensors(_ tensors: [RawTensor], metadata: [String: String] = [:]) -> Data {
    var body = Data()
    var entries: [String] = []
    if !metadata.isEmpty {
        let members = metadata.keys.sorted().map { "\"\($0)\":\"\(metadata[$0]!)\"" }
        entries.append("\"__metadata__\":{\(members.joined(separator: ","))}")
    }
    for tensor in tensors {
        let begin = body.count
        for value in tensor.values {
            switch tensor.dtype {
            case .f32: appendLittleEndian(Float(value).bitPattern, to: &body)
            case .f64: appendLittleEndian(value.bitPattern, to: &body)
            case .f16: appendLittleEndian(floatToFloat16Bits(Float(value)), to: &body)
            case .bf16: appendLittleEndian(floatToBFloat16Bits(Float(value)), to: &body)
            case .i64: appendLittleEndian(UInt64(bitPattern: Int64(value)), to: &body)
            case .i32: appendLittleEndian(UInt32(bitPattern: Int32(value)), to: &body)
            default: preconditionFailure("encodeSafeTensors: dtype \(tensor.dtype) is not supported here")
            }
        }
        let shape = tensor.shape.map(String.init).joined(separator: ",")
        entries.append("\"\(tensor.name)\":{\"dtype\":\"\(tensor.dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(begin),\(body.count)]}")
    }
    var header = Data(("{" + entries.joined(separator: ",") + "}").utf8)
    while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }
    var file = Data()
    appendLittleEndian(UInt64(header.count), to: &file)
    return file + header + body
}

private func appendLittleEndian<Word: FixedWidthInteger>(_ word: Word, to data: inout Data) {
    withUnsafeBytes(of: word.littleEndian) { data.append(contentsOf: $0) }
}
