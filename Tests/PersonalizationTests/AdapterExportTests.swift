import Diffusion
import Foundation
import TensorCore
import XCTest
@testable import Personalization

final class AdapterExportTests: XCTestCase {
    // MARK: - Round trips through every format

    /// Exports a rank-3 adapter with conv slots in `format`, imports it for
    /// the same base, and compares denoiser outputs.
    private func assertRoundTrip(_ format: AdapterFormat, tolerance: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser(convolutionSlots: true)
        let adapter = makeRandomAdapter(for: base.slots, rank: 3, alpha: 6, seed: 11)
        let url = folder.appendingPathComponent(format == .peft ? "adapter" : "adapter.safetensors")

        try AdapterExport.write(adapter, format: format, to: url, base: MergeBase(model: base))
        let imported = try AdapterImport.read(contentsOf: url, base: base)

        XCTAssertEqual(imported.format, format, file: file, line: line)
        XCTAssertEqual(imported.adapter.slotNames, adapter.slotNames, file: file, line: line)
        let expected = denoiserOutput(base, adapter: adapter)
        let actual = denoiserOutput(base, adapter: imported.adapter)
        let difference = maxAbsoluteDifference(expected, actual)
        XCTAssertLessThanOrEqual(difference, tolerance, "\(format) round trip changed the output by \(difference)", file: file, line: line)
        XCTAssertGreaterThan(maxAbsoluteDifference(expected, denoiserOutput(base, adapter: nil)), 1e-3,
                             "the adapter must change the output for the comparison to mean anything", file: file, line: line)
    }

    func testNativeRoundTripKeepsOutputs() throws {
        try assertRoundTrip(.native)
    }

    func testPEFTRoundTripKeepsOutputs() throws {
        try assertRoundTrip(.peft)
    }

    func testKohyaRoundTripKeepsOutputs() throws {
        try assertRoundTrip(.kohya)
    }

    func testMergedRoundTripKeepsOutputs() throws {
        try assertRoundTrip(.merged)
    }

    func testTensorFormatsRoundTripBitExactly() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser(convolutionSlots: true)
        let adapter = makeRandomAdapter(for: base.slots, rank: 2, alpha: 3, seed: 12)
        for format in [AdapterFormat.native, .peft, .kohya] {
            let url = folder.appendingPathComponent("\(format.rawValue)-adapter")
            try AdapterExport.write(adapter, format: format, to: url)
            let imported = try AdapterImport.read(contentsOf: url, base: base, format: format).adapter
            for name in adapter.slotNames {
                XCTAssertEqual(imported.slots[name]?.a.data, adapter.slots[name]!.a.data, "\(format) A of \(name)")
                XCTAssertEqual(imported.slots[name]?.b.data, adapter.slots[name]!.b.data, "\(format) B of \(name)")
                XCTAssertEqual(imported.slots[name]?.alpha, 3, "\(format) alpha of \(name)")
            }
        }
    }

    func testNativeFileKeepsMetadata() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        var adapter = makeRandomAdapter(for: base.slots, rank: 4, alpha: 4, seed: 13)
        adapter.metadata[AdapterMetadataKey.baseModelSHA256] = "abc123"
        let url = folder.appendingPathComponent("adapter.safetensors")
        try AdapterFile.write(adapter, to: url)

        let metadata = try SafeTensors.readHeader(contentsOf: url).metadata
        XCTAssertEqual(metadata["format"], "hyperfield.adapter")
        XCTAssertEqual(metadata["rank"], "4")
        XCTAssertEqual(metadata["alpha"], "4")
        XCTAssertNil(metadata["rank_pattern"])
        XCTAssertEqual(metadata["base_model_sha256"], "abc123")
        XCTAssertEqual(metadata["convergence_state"], "40")
        XCTAssertEqual(metadata["convergence_steps"], "40")
        XCTAssertEqual(metadata["subject_image_count"], "3")
        XCTAssertEqual(metadata["subject_image_sha256"], "aa,bb,cc")
        let read = try AdapterFile.read(contentsOf: url)
        XCTAssertEqual(read.convergenceState, 40)
        XCTAssertEqual(read.metadata[AdapterMetadataKey.baseModelSHA256], "abc123")
    }

    // MARK: - Merging

    func testFusedEqualsUnfused() throws {
        let base = makeTinyDenoiser(convolutionSlots: true)
        let adapter = makeRandomAdapter(for: base.slots, rank: 4, alpha: 8, seed: 14)
        let merged = try AdapterMerge.merged(base, with: adapter)

        let unfused = denoiserOutput(base, adapter: adapter)
        let fused = denoiserOutput(merged, adapter: nil)
        XCTAssertLessThanOrEqual(maxAbsoluteDifference(unfused, fused), 1e-4)
        XCTAssertGreaterThan(maxAbsoluteDifference(unfused, denoiserOutput(base, adapter: nil)), 1e-3)
    }

    func testMergedFileLoadsAsBaseModel() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser(convolutionSlots: true)
        let adapter = makeRandomAdapter(for: base.slots, rank: 2, alpha: 2, seed: 15)
        let url = folder.appendingPathComponent("merged.safetensors")
        try AdapterExport.write(adapter, format: .merged, to: url, base: MergeBase(model: base, metadata: ["step": "7"]))

        let (loaded, metadata) = try ModelFile.loadDenoiser(from: url)
        XCTAssertEqual(metadata["step"], "7")
        XCTAssertNotNil(metadata[AdapterMerge.recordKey])
        XCTAssertLessThanOrEqual(
            maxAbsoluteDifference(denoiserOutput(loaded, adapter: nil), denoiserOutput(base, adapter: adapter)), 1e-4)
    }

    func testMergeRejectsNonFiniteWeights() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        var adapter = makeRandomAdapter(for: base.slots, rank: 2, alpha: 2, seed: 16)
        let name = "mid.attn.0.attn1.to_q"
        adapter.slots[name]!.a = Tensor(shape: adapter.slots[name]!.a.shape, repeating: 1e30)
        adapter.slots[name]!.b = Tensor(shape: adapter.slots[name]!.b.shape, repeating: 1e30)
        let url = folder.appendingPathComponent("merged.safetensors")

        XCTAssertThrowsError(try AdapterExport.write(adapter, format: .merged, to: url, base: MergeBase(model: base))) { error in
            XCTAssertEqual(error as? AdapterError, .nonFiniteMerge(file: url.path, slot: name))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testMergeNeedsBaseModel() throws {
        let folder = try makeTemporaryFolder(self)
        let adapter = makeRandomAdapter(for: makeTinyDenoiser().slots, rank: 2, alpha: 2, seed: 17)
        let url = folder.appendingPathComponent("merged.safetensors")
        XCTAssertThrowsError(try AdapterExport.write(adapter, format: .merged, to: url)) { error in
            XCTAssertEqual(error as? AdapterError, .baseModelRequired(file: url.path))
        }
    }

    func testExportRejectsSlotThatBaseLacks() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        var adapter = makeRandomAdapter(for: base.slots, rank: 2, alpha: 2, seed: 18)
        adapter.slots["mid.attn.0.attn3.to_q"] = adapter.slots["mid.attn.0.attn1.to_q"]
        let url = folder.appendingPathComponent("adapter.safetensors")
        XCTAssertThrowsError(try AdapterExport.write(adapter, format: .kohya, to: url, base: MergeBase(model: base))) { error in
            XCTAssertEqual(error as? AdapterError, .slotNotInBase(slot: "mid.attn.0.attn3.to_q", reason: "is not a slot of the base model"))
        }
    }

    // MARK: - Scale, slots and guards

    func testScaleZeroEqualsNoAdapter() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser(convolutionSlots: true)
        let adapter = makeRandomAdapter(for: base.slots, rank: 3, alpha: 3, seed: 19)
        var settings = AdapterExportSettings()
        settings.scale = 0
        let prepared = try AdapterExport.prepare(adapter, settings: settings).adapter
        XCTAssertEqual(denoiserOutput(base, adapter: prepared), denoiserOutput(base, adapter: nil))

        // Kohya reads alpha 0 as alpha = rank, so scale 0 must not go through alpha.
        let url = folder.appendingPathComponent("zero.safetensors")
        try AdapterExport.write(prepared, format: .kohya, to: url)
        let imported = try AdapterImport.read(contentsOf: url, base: base).adapter
        XCTAssertEqual(denoiserOutput(base, adapter: imported), denoiserOutput(base, adapter: nil))
    }

    func testScaleMultipliesUpdate() throws {
        let base = makeTinyDenoiser()
        let adapter = makeRandomAdapter(for: base.slots, rank: 3, alpha: 3, seed: 20)
        var settings = AdapterExportSettings()
        settings.scale = 0.7
        let prepared = try AdapterExport.prepare(adapter, settings: settings).adapter
        for name in adapter.slotNames {
            let expected = slotUpdate(adapter.slots[name]!).map { $0 * 0.7 }
            let actual = slotUpdate(prepared.slots[name]!)
            let difference = zip(expected, actual).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(difference, 1e-6, "slot \(name)")
        }
    }

    func testKohyaAlphaZeroBecomesZeroUpdate() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        var adapter = makeRandomAdapter(for: base.slots, rank: 2, alpha: 2, seed: 21)
        for name in adapter.slotNames { adapter.slots[name]!.alpha = 0 }
        let url = folder.appendingPathComponent("kohya.safetensors")
        try KohyaFormat.write(adapter, to: url)
        let imported = try AdapterImport.read(contentsOf: url, base: base).adapter
        XCTAssertEqual(imported.slots["mid.attn.0.attn1.to_q"]?.alpha, 2)
        XCTAssertEqual(denoiserOutput(base, adapter: imported), denoiserOutput(base, adapter: nil))
    }

    func testSlotPatternSelectsSlots() throws {
        let adapter = makeRandomAdapter(for: makeTinyDenoiser().slots, rank: 2, alpha: 2, seed: 22)
        var settings = AdapterExportSettings()
        settings.slotPatterns = ["mid.*"]
        let prepared = try AdapterExport.prepare(adapter, settings: settings)
        XCTAssertEqual(prepared.adapter.slots.count, 8)
        XCTAssertTrue(prepared.adapter.slotNames.allSatisfy { $0.hasPrefix("mid.") })
        XCTAssertEqual(prepared.slots.map(\.slot), prepared.adapter.slotNames)

        settings.slotPatterns = ["mid.*.to_q", "up.0.attn.?.attn2.*"]
        let two = try AdapterExport.prepare(adapter, settings: settings).adapter
        XCTAssertEqual(two.slotNames, ["mid.attn.0.attn1.to_q", "mid.attn.0.attn2.to_q"]
                       + ["to_k", "to_out", "to_q", "to_v"].flatMap { p in ["up.0.attn.0.attn2.\(p)", "up.0.attn.1.attn2.\(p)"] }.sorted())
    }

    func testSlotPatternMatchingNothingFails() throws {
        let adapter = makeRandomAdapter(for: makeTinyDenoiser().slots, rank: 2, alpha: 2, seed: 23)
        var settings = AdapterExportSettings()
        settings.slotPatterns = ["mid.*", "middle.*"]
        XCTAssertThrowsError(try AdapterExport.prepare(adapter, settings: settings)) { error in
            XCTAssertEqual(error as? AdapterError, .noSlotsMatch(pattern: "middle.*", slotExample: adapter.slotNames.first))
        }
    }

    func testNonFiniteAdapterIsNeverWritten() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        let cases: [(tensor: String, value: Float)] = [("A", .nan), ("B", .infinity), ("alpha", -.infinity)]
        for (tensor, value) in cases {
            var adapter = makeRandomAdapter(for: base.slots, rank: 2, alpha: 2, seed: 24)
            let name = "down.1.attn.0.attn2.to_v"
            switch tensor {
            case "A": adapter.slots[name]!.a.data[3] = value
            case "B": adapter.slots[name]!.b.data[0] = value
            default: adapter.slots[name]!.alpha = value
            }
            for format in AdapterFormat.allCases {
                let url = folder.appendingPathComponent("\(format.rawValue)-\(tensor).safetensors")
                XCTAssertThrowsError(
                    try AdapterExport.write(adapter, format: format, to: url, base: MergeBase(model: base)),
                    "\(format) with a non-finite \(tensor)"
                ) { error in
                    guard case .nonFiniteValue(_, let slot, let which)? = error as? AdapterError else {
                        return XCTFail("\(format): expected nonFiniteValue, got \(error)")
                    }
                    XCTAssertEqual(slot, name)
                    XCTAssertEqual(which, tensor)
                }
                XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), "\(format) wrote \(url.lastPathComponent)")
            }
        }
    }

    // MARK: - PEFT configuration and kohya names

    func testPEFTConfigurationListsDifferingRanksAndAlphas() throws {
        let folder = try makeTemporaryFolder(self)
        var adapter = makeRandomAdapter(for: makeTinyDenoiser().slots, rank: 4, alpha: 4, seed: 25)
        let truncated = adapter.slots["mid.attn.0.attn1.to_q"]!.truncated(toRank: 2).weights
        adapter.slots["mid.attn.0.attn1.to_q"] = truncated
        adapter.slots["mid.attn.0.attn1.to_k"]!.alpha = 8
        try PEFTFormat.write(adapter, to: folder)

        let data = try Data(contentsOf: folder.appendingPathComponent("adapter_config.json"))
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["peft_type"] as? String, "LORA")
        XCTAssertEqual(object["r"] as? Int, 4)
        XCTAssertEqual((object["lora_alpha"] as? NSNumber)?.floatValue, 4)
        XCTAssertEqual(object["rank_pattern"] as? [String: Int], ["mid.attn.0.attn1.to_q": 2])
        let alphaPattern = try XCTUnwrap(object["alpha_pattern"] as? [String: NSNumber])
        XCTAssertEqual(alphaPattern.mapValues(\.floatValue), ["mid.attn.0.attn1.to_q": 2, "mid.attn.0.attn1.to_k": 8])
        XCTAssertEqual(object["target_modules"] as? [String], adapter.slotNames)

        let header = try SafeTensors.readHeader(contentsOf: folder.appendingPathComponent("adapter_model.safetensors"))
        let truncatedDown = header.entries.first { $0.name == "base_model.model.mid.attn.0.attn1.to_q.lora_A.weight" }
        XCTAssertEqual(truncatedDown?.shape, [2, 16])
        XCTAssertEqual(header.metadata["format"], "pt")
    }

    func testKohyaKeysUseUnderscores() throws {
        let folder = try makeTemporaryFolder(self)
        let adapter = makeRandomAdapter(for: makeTinyDenoiser(convolutionSlots: true).slots, rank: 2, alpha: 2, seed: 26)
        let url = folder.appendingPathComponent("kohya.safetensors")
        try KohyaFormat.write(adapter, to: url)
        let entries = try SafeTensors.readHeader(contentsOf: url).entries
        let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0) })
        XCTAssertEqual(byName["lora_unet_down_1_attn_0_attn1_to_q.lora_down.weight"]?.shape, [2, 16])
        XCTAssertEqual(byName["lora_unet_down_1_attn_0_attn1_to_q.lora_up.weight"]?.shape, [16, 2])
        XCTAssertEqual(byName["lora_unet_down_1_attn_0_attn1_to_q.alpha"]?.shape, [])
        XCTAssertEqual(byName["lora_unet_mid_res_0_conv1.lora_down.weight"]?.shape, [2, 16, 3, 3])
        XCTAssertEqual(byName["lora_unet_mid_res_0_conv1.lora_up.weight"]?.shape, [16, 2, 1, 1])
    }

    func testKohyaExportRejectsCollidingNames() throws {
        let folder = try makeTemporaryFolder(self)
        let adapter = makeRandomAdapter(for: [linearSlot("a_b.c"), linearSlot("a.b_c")], rank: 2, alpha: 2, seed: 27)
        let url = folder.appendingPathComponent("kohya.safetensors")
        XCTAssertThrowsError(try KohyaFormat.write(adapter, to: url)) { error in
            XCTAssertEqual(error as? AdapterError, .keyCollision(format: .kohya, key: "lora_unet_a_b_c.lora_down.weight", slots: ["a.b_c", "a_b.c"]))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testHalfPrecisionExportRoundsValues() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        let adapter = makeRandomAdapter(for: base.slots, rank: 2, alpha: 2, seed: 28)
        let url = folder.appendingPathComponent("kohya-f16.safetensors")
        try AdapterExport.write(adapter, format: .kohya, to: url, dtype: .f16)
        XCTAssertTrue(try SafeTensors.readHeader(contentsOf: url).entries.allSatisfy { $0.dtype == .f16 })
        let imported = try AdapterImport.read(contentsOf: url, base: base).adapter
        let name = "mid.attn.0.attn2.to_v"
        XCTAssertEqual(imported.slots[name]?.b.data, adapter.slots[name]!.b.data.map { float16BitsToFloat(floatToFloat16Bits($0)) })
        XCTAssertEqual(imported.slots[name]?.alpha, 2)
    }
}
