import Diffusion
import Foundation
import TensorCore
import XCTest
@testable import Personalization

/// The adapter facts that `hyperfield inspect` shows, and the command itself.
final class InspectTests: XCTestCase {
    private let slots = makeTinyDenoiser(convolutionSlots: true).slots

    func testUpdateNormMatchesDirectProduct() {
        let adapter = makeRandomAdapter(for: slots, rank: 3, alpha: 6, seed: 91)
        let summary = AdapterSummary(ImportedAdapter(adapter: adapter, format: .native))
        XCTAssertEqual(summary.slots.count, slots.count)
        for slot in summary.slots {
            let direct = slotUpdate(adapter.slots[slot.name]!).reduce(0.0) { $0 + $1 * $1 }.squareRoot()
            XCTAssertEqual(Double(slot.updateNorm), direct, accuracy: direct * 1e-5, slot.name)
            XCTAssertEqual(slot.scale, 2, slot.name)
        }
    }

    func testSummaryFlagsAdapterWithEveryUpZero() {
        var rng = SeededGenerator(seed: 92)
        let initial = Adapter.initial(for: slots, rank: 2, alpha: 2, rng: &rng)
        let initialSummary = AdapterSummary(ImportedAdapter(adapter: initial, format: .native))
        XCTAssertTrue(initialSummary.everyUpIsZero)
        XCTAssertTrue(initialSummary.slots.allSatisfy { $0.updateNorm == 0 })

        let oneTrained = initial.detached()
        oneTrained.slots["mid.res.1.conv2"]!.b.data[0] = 0.5
        XCTAssertFalse(AdapterSummary(ImportedAdapter(adapter: oneTrained, format: .native)).everyUpIsZero)
    }

    func testSummaryReadsConvergenceState() {
        var adapter = makeRandomAdapter(for: slots, rank: 2, alpha: 2, seed: 93)
        adapter.metadata[AdapterMetadataKey.baseModelSHA256] = "ff00"
        let summary = AdapterSummary(ImportedAdapter(adapter: adapter, format: .kohya))
        XCTAssertEqual(summary.convergenceState, 40)
        XCTAssertEqual(summary.convergenceSteps, 40)
        XCTAssertEqual(summary.subjectImageCount, 3)
        XCTAssertEqual(summary.baseModelSHA256, "ff00")
    }

    // MARK: - The command

    func testCommandListsTensorsAndSlots() throws {
        let folder = try makeTemporaryFolder(self)
        let url = folder.appendingPathComponent("adapter.safetensors")
        try AdapterFile.write(makeRandomAdapter(for: slots, rank: 2, alpha: 4, seed: 94), to: url)

        let result = try runHyperfield(["inspect", url.path])
        XCTAssertEqual(result.exitCode, 0, result.standardError)
        let output = result.standardOutput
        XCTAssertTrue(output.contains("format"), output)
        XCTAssertTrue(output.contains("hyperfield.adapter"), output)
        XCTAssertTrue(output.contains("mid.res.0.conv1.lora_A.weight"), output)
        XCTAssertTrue(output.contains("[2, 16, 3, 3]"), output)
        XCTAssertTrue(output.contains("1152"), "bytes of a [2, 16, 3, 3] F32 tensor: \(output)")
        XCTAssertTrue(output.contains("s = 40 of S = 40"), output)
        XCTAssertFalse(output.contains("every B is zero"), output)
    }

    func testCommandJSONHasSlotsAndState() throws {
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser(convolutionSlots: true)
        let basePath = folder.appendingPathComponent("base.safetensors").path
        try ModelFile.save(base, configuration: base.configuration, kind: "denoiser", to: URL(fileURLWithPath: basePath))
        let url = folder.appendingPathComponent("kohya.safetensors")
        try KohyaFormat.write(makeRandomAdapter(for: slots, rank: 2, alpha: 4, seed: 95), to: url, dtype: .f16)

        let result = try runHyperfield(["inspect", url.path, "--base", basePath, "--json"])
        XCTAssertEqual(result.exitCode, 0, result.standardError)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(object["adapter_format"] as? String, "kohya")
        let tensors = try XCTUnwrap(object["tensors"] as? [[String: Any]])
        XCTAssertEqual(tensors.count, slots.count * 3)
        XCTAssertTrue(tensors.allSatisfy { $0["dtype"] as? String == "F16" })
        let adapter = try XCTUnwrap(object["adapter"] as? [String: Any])
        XCTAssertEqual(adapter["convergence_state"] as? Int, 40)
        let slotRows = try XCTUnwrap(adapter["slots"] as? [[String: Any]])
        XCTAssertEqual(slotRows.count, slots.count)
        XCTAssertTrue(slotRows.contains { $0["name"] as? String == "up.0.attn.1.attn2.to_out" }, "kohya names resolved by --base")
        XCTAssertTrue(slotRows.allSatisfy { $0["rank"] as? Int == 2 })
        XCTAssertTrue(slotRows.allSatisfy { ($0["scale"] as? NSNumber)?.floatValue == 2 })
    }

    func testCommandWarnsWhenEveryUpIsZero() throws {
        let folder = try makeTemporaryFolder(self)
        var rng = SeededGenerator(seed: 96)
        let url = folder.appendingPathComponent("initial.safetensors")
        try AdapterFile.write(Adapter.initial(for: slots, rank: 2, alpha: 2, rng: &rng), to: url)
        let result = try runHyperfield(["inspect", url.path])
        XCTAssertEqual(result.exitCode, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("warning: every B is zero"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("convergence state  not recorded"), result.standardOutput)
    }

    func testCommandShowsAnySafetensorsFile() throws {
        let folder = try makeTemporaryFolder(self)
        let url = folder.appendingPathComponent("mixed.safetensors")
        try encodeSafeTensors([
            RawTensor(name: "weights", dtype: .bf16, shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
            RawTensor(name: "counts", dtype: .i64, shape: [4], values: [1, 2, 3, 4]),
        ], metadata: ["note": "made by a test"]).write(to: url)

        let result = try runHyperfield(["inspect", url.path])
        XCTAssertEqual(result.exitCode, 0, result.standardError)
        let lines = result.standardOutput.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.contains("note") && $0.contains("made by a test") }, result.standardOutput)
        XCTAssertTrue(lines.contains { $0.contains("weights") && $0.contains("BF16") && $0.contains("[2, 3]") && $0.hasSuffix("12") }, result.standardOutput)
        XCTAssertTrue(lines.contains { $0.contains("counts") && $0.contains("I64") && $0.contains("[4]") && $0.hasSuffix("32") }, result.standardOutput)
        XCTAssertFalse(result.standardOutput.contains("adapter "), result.standardOutput)
    }

    func testCommandReportsMissingFile() throws {
        let result = try runHyperfield(["inspect", "/nonexistent/adapter.safetensors"])
        XCTAssertEqual(result.exitCode, 1)
        XCTAssertTrue(result.standardError.contains("/nonexistent/adapter.safetensors does not exist"), result.standardError)
    }
}
