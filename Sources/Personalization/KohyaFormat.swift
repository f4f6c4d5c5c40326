import Diffusion
import Foundation
import TensorCore

/// The kohya sd-scripts LoRA format: one safetensors file with keys
/// `lora_unet_<slot with dots as underscores>.lora_down.weight` (`A`),
/// `.lora_up.weight` (`B`) and a rank-0 `.alpha`.
///
/// The underscored names are ambiguous (`mid.attn.0.attn1.to_q` becomes
/// `mid_attn_0_attn1_to_q`, and `to_q` has an underscore of its own), so
/// import maps them back through a table of the base model's slot names.
/// Kohya's loader reads an alpha of 0 as alpha = rank, so a slot with alpha 0
/// is written with a zero `B` and alpha = rank, which gives the same zero
/// update.
public enum KohyaFormat {
    /// Writes `adapter` to `url` through `AtomicFile`.
    ///
    /// - Throws: `AdapterError.nonFiniteValue` before anything is written;
    ///   `AdapterError.keyCollision` when two slots get the same underscored
    ///   name; safetensors errors.
    public static func write(_ adapter: Adapter, to url: URL, dtype: SafeTensorsDType = .f32) throws {
        try checkFinite(adapter, file: url.path)
        _ = try AdapterKeyTable(scheme: .kohya, slots: adapter.slotNames)

        var written = adapter
        for (name, weights) in adapter.slots where weights.alpha == 0 {
            written.slots[name] = LoRAWeights(a: weights.a, b: Tensor.zeros(weights.b.shape), alpha: Float(weights.rank))
        }

        // The ss_ fields are the ones kohya's tools show for a network.
        var metadata = adapter.metadata.filter { !AdapterMetadataKey.computed.contains($0.key) }
        metadata["ss_network_module"] = "networks.lora"
        if let (rank, _) = dominantValue(written.ranks) { metadata["ss_network_dim"] = String(rank) }
        if let (alpha, _) = dominantValue(written.alphas) { metadata["ss_network_alpha"] = formatNumber(alpha) }
        try SafeTensors.write(
            AdapterFile.tensors(written, scheme: .kohya), metadata: metadata, dtype: dtype, to: url)
    }
}
