import Diffusion
import Foundation
import TensorCore
import XCTest
@testable import Personalization

final class AdapterImportTests: XCTestCase {
    private let slot = linearSlot("mid.attn.0.attn1.to_q", inFeatures: 6, outFeatures: 5)

    /// Returns the tensors of a kohya file for `slot` at rank 2, with values
    /// 0.25·(i + 1) in A and −0.5·(i + 1) in B, which F16 and BF16 store
    /// exactly.
    private func kohyaTensors(downType: SafeTensorsDType = .f32, upType: SafeTensorsDType = .f32) -> [RawTensor] {
        let module = "lora_unet_mid_attn_0_attn1_to_q"
        return [
            RawTensor(name: module + ".lora_down.weight", dtype: downType, shape: [2, 6], values: (0..<12).map { 0.25 * Double($0 + 1) }),
            RawTensor(name: module + ".lora_up.weight", dtype: upType, shape: [5, 2], values: (0..<10).map { -0.5 * Double($0 + 1) }),
        ]
    }

    private func write(_ tensors: [RawTensor], metadata: [String: String] = [:], name: String = "adapter.safetensors") throws -> URL {
        let url = try makeTemporaryFolder(self).appendingPathComponent(name)
        try encodeSafeTensors(tensors, metadata: metadata).write(to: url)
        return url
    }

    // MARK: - Alpha

    func testMissingAlphaMeansRank() throws {
        let url = try write(kohyaTensors())
        let imported = try AdapterImport.read(contentsOf: url, format: nil, slots: [slot])
        XCTAssertEqual(imported.format, .kohya)
        XCTAssertEqual(imported.adapter.slots[slot.name]?.alpha, 2)
        XCTAssertEqual(imported.adapter.slots[slot.name]?.scale, 1)
        XCTAssertEqual(imported.notes, ["alpha = rank for 1 of 1 slots, which store no alpha"])
    }

    func testAlphaInAnyDTypeReadsAsFloat() throws {
        let cases: [(dtype: SafeTensorsDType, shape: [Int], value: Double)] = [
            (.f16, [], 3), (.bf16, [], 6), (.i64, [], 8), (.f32, [1], 1.5), (.f64, [1], 0.75), (.i32, [1], 4),
        ]
        for (dtype, shape, value) in cases {
            let alpha = RawTensor(name: "lora_unet_mid_attn_0_attn1_to_q.alpha", dtype: dtype, shape: shape, values: [value])
            let url = try write(kohyaTensors() + [alpha])
            let imported = try AdapterImport.read(contentsOf: url, format: nil, slots: [slot])
            XCTAssertEqual(imported.adapter.slots[slot.name]?.alpha, Float(value), "alpha as \(dtype.rawValue) \(shape)")
        }
    }

    func testAlphaWithTwoValuesFails() throws {
        let alphaKey = "lora_unet_mid_attn_0_attn1_to_q.alpha"
        let url = try write(kohyaTensors() + [RawTensor(name: alphaKey, dtype: .f32, shape: [2], values: [1, 2])])
        XCTAssertThrowsError(try AdapterImport.read(contentsOf: url, format: nil, slots: [slot])) { error in
            XCTAssertEqual(error as? AdapterError, .invalidAlpha(file: url.path, key: alphaKey, shape: [2]))
        }
    }

    func testKohyaAlphaZeroReadsAsRank() throws {
        let alpha = RawTensor(name: "lora_unet_mid_attn_0_attn1_to_q.alpha", dtype: .f16, shape: [], values: [0])
        let url = try write(kohyaTensors() + [alpha])
        XCTAssertEqual(try AdapterImport.read(contentsOf: url, format: nil, slots: [slot]).adapter.slots[slot.name]?.alpha, 2)
    }

    func testPerSlotAlphasGiveScales() throws {
        // Rank 4 with alpha 4 and 8 must give scales 1.0 and 2.0 in every format.
        let folder = try makeTemporaryFolder(self)
        let slots = [linearSlot("up.0.attn.0.attn2.to_k"), linearSlot("up.0.attn.0.attn2.to_v")]
        var adapter = makeRandomAdapter(for: slots, rank: 4, alpha: 4, seed: 61)
        adapter.slots["up.0.attn.0.attn2.to_v"]!.alpha = 8
        for format in [AdapterFormat.native, .peft, .kohya] {
            let url = folder.appendingPathComponent("\(format.rawValue)-alphas")
            try AdapterExport.write(adapter, format: format, to: url)
            let imported = try AdapterImport.read(contentsOf: url, format: format, slots: slots).adapter
            XCTAssertEqual(imported.slots["up.0.attn.0.attn2.to_k"]?.scale, 1.0, "\(format)")
            XCTAssertEqual(imported.slots["up.0.attn.0.attn2.to_v"]?.scale, 2.0, "\(format)")
        }
    }

    // MARK: - Dtypes

    func testMixedHalfAndSingleTensorsAreUpcast() throws {
        let url = try write(kohyaTensors(downType: .f16, upType: .f32))
        let weights = try XCTUnwrap(try AdapterImport.read(contentsOf: url, format: nil, slots: [slot]).adapter.slots[slot.name])
        XCTAssertEqual(weights.a.data, (0..<12).map { 0.25 * Float($0 + 1) })
        XCTAssertEqual(weights.b.data, (0..<10).map { -0.5 * Float($0 + 1) })

        let bf16 = try write(kohyaTensors(downType: .f32, upType: .bf16))
        let bf16Weights = try XCTUnwrap(try AdapterImport.read(contentsOf: bf16, format: nil, slots: [slot]).adapter.slots[slot.name])
        XCTAssertEqual(bf16Weights.b.data, (0..<10).map { -0.5 * Float($0 + 1) })
    }

    // MARK: - Keys

    func testUnmatchedKeysFailWithTheirCount() throws {
        let stray = ["lora_unet_mid_attn_0_attn9_to_q.lora_down.weight", "lora_unet_mid_attn_0_attn9_to_q.lora_up.weight",
                     "lora_unet_mid_attn_0_attn9_to_q.alpha"]
        let extra = [RawTensor(name: stray[0], dtype: .f32, shape: [2, 6], values: Array(repeating: 1, count: 12)),
                     RawTensor(name: stray[1], dtype: .f32, shape: [5, 2], values: Array(repeating: 1, count: 10)),
                     RawTensor(name: stray[2], dtype: .f32, shape: [], values: [2])]
        let url = try write(kohyaTensors() + extra)

        XCTAssertThrowsError(try AdapterImport.read(contentsOf: url, format: nil, slots: [slot])) { error in
            guard case .unmatchedKeys(let file, let keys, let example)? = error as? AdapterError else {
                return XCTFail("expected unmatchedKeys, got \(error)")
            }
            XCTAssertEqual(file, url.path)
            XCTAssertEqual(keys.count, 3)
            XCTAssertEqual(Set(keys), Set(stray))
            XCTAssertEqual(example, "lora_unet_mid_attn_0_attn1_to_q.lora_down.weight")
            XCTAssertTrue("\(error)".contains("3 keys match no slot"), "\(error)")
            XCTAssertTrue("\(error)".contains("--allow-unmatched"), "\(error)")
        }
    }

    func testAllowUnmatchedSkipsKeys() throws {
        let extra = RawTensor(name: "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", dtype: .f16, shape: [2, 3], values: Array(repeating: 1, count: 6))
        let url = try write(kohyaTensors() + [extra])
        let imported = try AdapterImport.read(contentsOf: url, format: nil, slots: [slot], allowUnmatched: true)
        XCTAssertEqual(imported.adapter.slotNames, [slot.name])
        XCTAssertEqual(imported.unmatchedKeys, [extra.name])
    }

    func testFileMatchingNothingFailsEvenWhenAllowed() throws {
        let url = try write(kohyaTensors())
        let other = linearSlot("down.1.attn.0.attn1.to_q", inFeatures: 6, outFeatures: 5)
        for allowUnmatched in [false, true] {
            XCTAssertThrowsError(try AdapterImport.read(contentsOf: url, format: nil, slots: [other], allowUnmatched: allowUnmatched)) { error in
                guard case .noMatchingKeys(_, let keys, _)? = error as? AdapterError else {
                    return XCTFail("expected noMatchingKeys, got \(error)")
                }
                XCTAssertEqual(keys.count, 2)
            }
        }
    }

    func testModulePathsWithReservedWordsRoundTrip() throws {
        // Module paths that contain the formats' own key words.
        let folder = try makeTemporaryFolder(self)
        let slots = [linearSlot("blocks.weight.lora_A.to_q"), linearSlot("lora_up.weight_proj"), linearSlot("x.lora_down.alpha"),
                     linearSlot("attn.to_out.weight"), linearSlot("base_model.model.lora_B")]
        let adapter = makeRandomAdapter(for: slots, rank: 3, alpha: 5, seed: 62)
        for format in [AdapterFormat.native, .peft, .kohya] {
            let url = folder.appendingPathComponent("\(format.rawValue)-reserved")
            try AdapterExport.write(adapter, format: format, to: url)
            let imported = try AdapterImport.read(contentsOf: url, format: nil, slots: slots)
            XCTAssertEqual(imported.format, format)
            XCTAssertEqual(imported.adapter.slotNames, adapter.slotNames, "\(format)")
            for name in adapter.slotNames {
                XCTAssertEqual(imported.adapter.slots[name]?.a.data, adapter.slots[name]!.a.data, "\(format) A of \(name)")
                XCTAssertEqual(imported.adapter.slots[name]?.b.data, adapter.slots[name]!.b.data, "\(format) B of \(name)")
                XCTAssertEqual(imported.adapter.slots[name]?.alpha, 5, "\(format) alpha of \(name)")
            }
        }
        // Native and PEFT keys also parse without the slot list.
        for format in [AdapterFormat.native, .peft] {
            let url = folder.appendingPathComponent("\(format.rawValue)-reserved")
            let parsed = try AdapterImport.read(contentsOf: url, format: format, slots: nil)
            XCTAssertEqual(parsed.adapter.slotNames, adapter.slotNames, "\(format) without slots")
        }
    }

    func testKohyaNamesResolveAgainstSlotNames() throws {
        // The same underscored key means a different slot in each model.
        let down = RawTensor(name: "lora_unet_a_b_c.lora_down.weight", dtype: .f32, shape: [1, 6], values: Array(repeating: 1, count: 6))
        let up = RawTensor(name: "lora_unet_a_b_c.lora_up.weight", dtype: .f32, shape: [5, 1], values: Array(repeating: 1, count: 5))
        let url = try write([down, up])
        for name in ["a.b_c", "a_b.c", "a.b.c", "a_b_c"] {
            let imported = try AdapterImport.read(contentsOf: url, format: .kohya, slots: [linearSlot(name)])
            XCTAssertEqual(imported.adapter.slotNames, [name])
        }
    }

    func testMissingUpTensorFails() throws {
        let url = try write([kohyaTensors()[0]])
        XCTAssertThrowsError(try AdapterImport.read(contentsOf: url, format: nil, slots: [slot])) { error in
            XCTAssertEqual(error as? AdapterError, .missingTensor(file: url.path, slot: slot.name, key: "lora_unet_mid_attn_0_attn1_to_q.lora_up.weight"))
        }
    }

    func testShapeThatDoesNotFitSlotFails() throws {
        let narrow = linearSlot(slot.name, inFeatures: 4, outFeatures: 5)
        let url = try write(kohyaTensors())
        XCTAssertThrowsError(try AdapterImport.read(contentsOf: url, format: nil, slots: [narrow])) { error in
            XCTAssertEqual(error as? AdapterError, .shapeMismatch(
                file: url.path, key: "lora_unet_mid_attn_0_attn1_to_q.lora_down.weight", shape: [2, 6], expected: "[2, 4]"))
        }
    }

    func testUnknownFormatFails() throws {
        let url = try write([RawTensor(name: "conv_in.weight", dtype: .f32, shape: [2], values: [1, 2])])
        XCTAssertThrowsError(try AdapterImport.read(contentsOf: url, format: nil, slots: [slot])) { error in
            XCTAssertEqual(error as? AdapterError, .unknownFormat(file: url.path))
        }
    }

    func testFormatDetection() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        let adapter = makeRandomAdapter(for: base.slots, rank: 2, alpha: 2, seed: 63)
        for format in AdapterFormat.allCases {
            let url = folder.appendingPathComponent("detect-\(format.rawValue)")
            try AdapterExport.write(adapter, format: format, to: url, base: MergeBase(model: base))
            XCTAssertEqual(try AdapterImport.detectFormat(at: url), format)
        }
        let peftWeights = folder.appendingPathComponent("detect-peft/adapter_model.safetensors")
        XCTAssertEqual(try AdapterImport.detectFormat(at: peftWeights), .peft)
    }

    // MARK: - PEFT configuration

    private func writePEFT(configuration: [String: Any]?) throws -> URL {
        let folder = try makeTemporaryFolder(self)
        let tensors = [
            RawTensor(name: "base_model.model.mid.attn.0.attn1.to_q.lora_A.weight", dtype: .f32, shape: [4, 6], values: (0..<24).map { Double($0) / 10 }),
            RawTensor(name: "base_model.model.mid.attn.0.attn1.to_q.lora_B.weight", dtype: .f32, shape: [5, 4], values: (0..<20).map { Double($0) / 20 }),
        ]
        try encodeSafeTensors(tensors, metadata: ["format": "pt"]).write(to: folder.appendingPathComponent("adapter_model.safetensors"))
        if let configuration {
            try JSONSerialization.data(withJSONObject: configuration).write(to: folder.appendingPathComponent("adapter_config.json"))
        }
        return folder
    }

    func testPEFTWithoutConfigurationUsesRank() throws {
        let folder = try writePEFT(configuration: nil)
        let imported = try AdapterImport.read(contentsOf: folder, format: nil, slots: [slot])
        XCTAssertEqual(imported.format, .peft)
        XCTAssertEqual(imported.adapter.slots[slot.name]?.alpha, 4)
        XCTAssertEqual(imported.notes.count, 1)
    }

    func testPEFTAlphaPatternAndRankStabilizedScaling() throws {
        let patterned = try writePEFT(configuration: [
            "peft_type": "LORA", "r": 4, "lora_alpha": 16, "alpha_pattern": ["attn1.to_q": 8], "rank_pattern": [:],
        ])
        XCTAssertEqual(try AdapterImport.read(contentsOf: patterned, format: nil, slots: [slot]).adapter.slots[slot.name]?.alpha, 8)

        // rsLoRA: scale alpha / √r = 16 / 2 = 8, which is alpha 32 at r = 4.
        let stabilized = try writePEFT(configuration: ["peft_type": "LORA", "r": 4, "lora_alpha": 16, "use_rslora": true])
        XCTAssertEqual(try AdapterImport.read(contentsOf: stabilized, format: nil, slots: [slot]).adapter.slots[slot.name]?.scale, 8)
    }

    func testPEFTRankContradictingTensorsFails() throws {
        let folder = try writePEFT(configuration: ["peft_type": "LORA", "r": 8, "lora_alpha": 8])
        XCTAssertThrowsError(try AdapterImport.read(contentsOf: folder, format: nil, slots: [slot])) { error in
            guard case .invalidConfiguration(_, let reason)? = error as? AdapterError else {
                return XCTFail("expected invalidConfiguration, got \(error)")
            }
            XCTAssertTrue(reason.contains("rank 8"), reason)
        }
    }

    func testPEFTDoRAIsRejected() throws {
        let folder = try writePEFT(configuration: ["peft_type": "LORA", "r": 4, "lora_alpha": 4, "use_dora": true])
        XCTAssertThrowsError(try AdapterImport.read(contentsOf: folder, format: nil, slots: [slot])) { error in
            guard case .invalidConfiguration(_, let reason)? = error as? AdapterError else {
                return XCTFail("expected invalidConfiguration, got \(error)")
            }
            XCTAssertTrue(reason.contains("use_dora"), reason)
        }
    }

    // MARK: - Merged files

    func testMergedImportNeedsMergeRecord() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        let url = folder.appendingPathComponent("plain.safetensors")
        try ModelFile.save(base, configuration: base.configuration, kind: "denoiser", to: url)
        XCTAssertThrowsError(try AdapterImport.read(contentsOf: url, base: base)) { error in
            guard case .wrongKind(_, let found, _, _)? = error as? AdapterError else {
                return XCTFail("expected wrongKind, got \(error)")
            }
            XCTAssertTrue(found.contains("merged_adapter"), found)
        }
    }

    func testMergedImportWithOtherBaseFails() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser(seed: 1)
        let other = makeTinyDenoiser(seed: 2)
        let url = folder.appendingPathComponent("merged.safetensors")
        try AdapterExport.write(makeRandomAdapter(for: base.slots, rank: 2, alpha: 2, seed: 64), format: .merged, to: url, base: MergeBase(model: base))
        XCTAssertThrowsError(try AdapterImport.read(contentsOf: url, base: other)) { error in
            guard case .mergedBaseMismatch(let file, _, let difference)? = error as? AdapterError else {
                return XCTFail("expected mergedBaseMismatch, got \(error)")
            }
            XCTAssertEqual(file, url.path)
            XCTAssertGreaterThan(difference, 0)
        }
    }

    func testMergedImportKeepsAdapterMetadata() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        let url = folder.appendingPathComponent("merged.safetensors")
        let adapter = makeRandomAdapter(for: base.slots, rank: 2, alpha: 4, seed: 65)
        try AdapterExport.write(adapter, format: .merged, to: url, base: MergeBase(model: base))
        let imported = try AdapterImport.read(contentsOf: url, base: base).adapter
        XCTAssertEqual(imported.convergenceState, 40)
        XCTAssertEqual(imported.slots["mid.attn.0.attn1.to_q"]?.rank, 2)
        XCTAssertEqual(imported.slots["mid.attn.0.attn1.to_q"]?.alpha, 4)
    }
}
