import Diffusion
import Foundation
import TensorCore

/// Facts about one slot of an adapter, as `hyperfield inspect` shows them.
public struct AdapterSlotSummary: Encodable, Sendable {
    public let name: String
    public let rank: Int
    public let alpha: Float
    /// alpha / r.
    public let scale: Float
    /// `‖(alpha / r)·B·A‖_F`, the size of the slot's weight update.
    public let updateNorm: Float
    public let aShape: [Int]
    public let bShape: [Int]
    /// Whether every element of `B` is zero, so the slot changes nothing.
    public let upIsZero: Bool

    enum CodingKeys: String, CodingKey {
        case name, rank, alpha, scale
        case updateNorm = "update_norm"
        case aShape = "a_shape"
        case bShape = "b_shape"
        case upIsZero = "b_is_zero"
    }

    public init(name: String, weights: LoRAWeights) {
        self.name = name
        rank = weights.rank
        alpha = weights.alpha
        scale = weights.scale
        updateNorm = abs(weights.scale) * Self.productNorm(weights)
        aShape = weights.a.shape
        bShape = weights.b.shape
        upIsZero = weights.b.data.allSatisfy { $0 == 0 }
    }

    /// `‖B·A‖_F` from the `r × r` Gram matrices:
    /// `‖B·A‖² = Σ_jl (BᵀB)_jl (A·Aᵀ)_jl`, without forming `B·A`.
    static func productNorm(_ weights: LoRAWeights) -> Float {
        let up = weights.upMatrix, down = weights.downMatrix
        let upGram = up.transposed.multiplied(by: up)
        let downGram = down.multiplied(by: down.transposed)
        let squared = zip(upGram.values, downGram.values).reduce(0.0) { $0 + $1.0 * $1.1 }
        return Float(max(0, squared).squareRoot())
    }
}

/// Facts about a whole adapter: its slots, convergence state and origin.
public struct AdapterSummary: Encodable, Sendable {
    public let format: AdapterFormat
    /// Slots in name order.
    public let slots: [AdapterSlotSummary]
    /// `s`, when the file records it.
    public let convergenceState: Int?
    /// `S`, when the file records it.
    public let convergenceSteps: Int?
    public let baseModelSHA256: String?
    public let subjectImageCount: Int?
    /// Whether every slot's `B` is zero, as in an untrained adapter `θ_0`.
    public let everyUpIsZero: Bool
    public let unmatchedKeys: [String]
    public let notes: [String]

    enum CodingKeys: String, CodingKey {
        case format, slots
        case convergenceState = "convergence_state"
        case convergenceSteps = "convergence_steps"
        case baseModelSHA256 = "base_model_sha256"
        case subjectImageCount = "subject_image_count"
        case everyUpIsZero = "every_b_is_zero"
        case unmatchedKeys = "unmatched_keys"
        case notes
    }

    public init(_ imported: ImportedAdapter) {
        let adapter = imported.adapter
        format = imported.format
        slots = adapter.slotNames.map { AdapterSlotSummary(name: $0, weights: adapter.slots[$0]!) }
        convergenceState = adapter.convergenceState
        convergenceSteps = adapter.convergenceSteps
        baseModelSHA256 = adapter.metadata[AdapterMetadataKey.baseModelSHA256]
        subjectImageCount = adapter.metadata[AdapterMetadataKey.subjectImageCount].flatMap { Int($0) }
        everyUpIsZero = !slots.isEmpty && slots.allSatisfy(\.upIsZero)
        unmatchedKeys = imported.unmatchedKeys
        notes = imported.notes
    }
}
