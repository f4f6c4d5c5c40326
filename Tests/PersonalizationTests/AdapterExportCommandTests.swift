import Diffusion
import Foundation
import TensorCore
import XCTest
@testable import Personalization

/// Runs the `export` and `import` commands of the built program on a tiny
/// denoiser and adapter.
final class AdapterExportCommandTests: XCTestCase {
    private var folder: URL!
    private var basePath = ""
    private var adapterPath = ""
    private var adapter = Adapter()

    override func setUpWithError() throws {
        _ = try hyperfieldExecutable()
        folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser()
        basePath = folder.appendingPathComponent("base.safetensors").path
        try ModelFile.save(base, configuration: base.configuration, kind: "denoiser", to: URL(fileURLWithPath: basePath))
        adapter = makeRandomAdapter(for: base.slots, rank: 4, alpha: 4, seed: 81)
        adapterPath = folder.appendingPathComponent("adapter.safetensors").path
        try AdapterFile.write(adapter, to: URL(fileURLWithPath: adapterPath))
    }

    private func path(_ name: String) -> String {
        folder.appendingPathComponent(name).path
    }

    func testKohyaExportThenImportRestoresAdapter() throws {
        let export = try runHyperfield(["export", adapterPath, "--format", "kohya", "--output", path("kohya.safetensors"), "--base", basePath])
        XCTAssertEqual(export.exitCode, 0, export.standardError)
        XCTAssertTrue(export.standardOutput.contains("wrote \(path("kohya.safetensors")) (kohya, 32 slots at s = 40 of S = 40)"), export.standardOutput)

        let back = try runHyperfield(["import", path("kohya.safetensors"), "--base", basePath, "--output", path("back.safetensors")])
        XCTAssertEqual(back.exitCode, 0, back.standardError)
        XCTAssertTrue(back.standardOutput.contains("read 32 slots"), back.standardOutput)
        let imported = try AdapterFile.read(contentsOf: URL(fileURLWithPath: path("back.safetensors")))
        for name in adapter.slotNames {
            XCTAssertEqual(imported.slots[name]?.a.data, adapter.slots[name]!.a.data, name)
            XCTAssertEqual(imported.slots[name]?.b.data, adapter.slots[name]!.b.data, name)
        }
        XCTAssertEqual(imported.metadata[AdapterMetadataKey.baseModelSHA256]?.count, 64)
    }

    func testRankOptionPrintsErrorPerSlot() throws {
        let result = try runHyperfield(["export", adapterPath, "--rank", "2", "--slots", "mid.*", "--output", path("low.safetensors")])
        XCTAssertEqual(result.exitCode, 0, result.standardError)
        let lines = result.standardOutput.split(separator: "\n").filter { $0.contains("relative Frobenius error") }
        XCTAssertEqual(lines.count, 8, result.standardOutput)
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("mid.") }, result.standardOutput)
        XCTAssertTrue(lines.allSatisfy { $0.contains("rank 4 → 2") }, result.standardOutput)
        XCTAssertEqual(try AdapterFile.read(contentsOf: URL(fileURLWithPath: path("low.safetensors"))).slots.count, 8)
    }

    func testJSONOutputListsSlots() throws {
        let result = try runHyperfield(["export", adapterPath, "--format", "peft", "--output", path("peft"), "--scale", "0.5", "--json"])
        XCTAssertEqual(result.exitCode, 0, result.standardError)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        XCTAssertEqual(object["format"] as? String, "peft")
        XCTAssertEqual((object["files"] as? [String])?.count, 2)
        XCTAssertEqual((object["slots"] as? [Any])?.count, 32)
        XCTAssertEqual(object["convergence_state"] as? Int, 40)
    }

    func testStepWithAdapterFileFails() throws {
        let result = try runHyperfield(["export", adapterPath, "--step", "0.5", "--output", path("half.safetensors")])
        XCTAssertEqual(result.exitCode, 1)
        XCTAssertTrue(result.standardError.contains("\(adapterPath) stores a single convergence state"), result.standardError)
        XCTAssertTrue(result.standardError.contains("Leave out --step"), result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("half.safetensors")))
    }

    func testTrajectoryWithAdapterFileFails() throws {
        let result = try runHyperfield(["export", adapterPath, "--trajectory", "--output", path("steps")])
        XCTAssertEqual(result.exitCode, 1)
        XCTAssertTrue(result.standardError.contains("stores a single convergence state"), result.standardError)
    }

    func testConflictingOptionsAreUsageErrors() throws {
        let cases: [(arguments: [String], message: String)] = [
            (["--format", "merged"], "--format merged needs --base"),
            (["--step", "0.5", "--trajectory"], "--step and --trajectory exclude each other"),
            (["--step", "half"], "invalid value 'half' for --step"),
            (["--format", "peft"], "give --output a folder name"),
            (["--every", "2"], "--every applies only with --trajectory"),
        ]
        for (arguments, message) in cases {
            let result = try runHyperfield(["export", adapterPath, "--output", path("x.safetensors")] + arguments)
            XCTAssertEqual(result.exitCode, 2, "\(arguments)")
            XCTAssertTrue(result.standardError.contains(message), "\(arguments): \(result.standardError)")
        }
    }

    func testMergedExportLoadsAsBaseModel() throws {
        let result = try runHyperfield(["export", adapterPath, "--format", "merged", "--base", basePath, "--output", path("merged.safetensors")])
        XCTAssertEqual(result.exitCode, 0, result.standardError)
        let (merged, metadata) = try ModelFile.loadDenoiser(from: URL(fileURLWithPath: path("merged.safetensors")))
        XCTAssertNotNil(metadata[AdapterMerge.recordKey])
        let (base, _) = try ModelFile.loadDenoiser(from: URL(fileURLWithPath: basePath))
        XCTAssertLessThanOrEqual(
            maxAbsoluteDifference(denoiserOutput(merged, adapter: nil), denoiserOutput(base, adapter: adapter)), 1e-4)
    }

    func testImportOfUnmatchedKeysFailsUnlessAllowed() throws {
        var extended = adapter
        extended.slots["mid.attn.0.attn9.to_q"] = adapter.slots["mid.attn.0.attn1.to_q"]
        try KohyaFormat.write(extended, to: URL(fileURLWithPath: path("stray.safetensors")))

        let strict = try runHyperfield(["import", path("stray.safetensors"), "--base", basePath, "--output", path("out.safetensors")])
        XCTAssertEqual(strict.exitCode, 1)
        XCTAssertTrue(strict.standardError.contains("3 keys match no slot of the base model"), strict.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.safetensors")))

        let allowed = try runHyperfield(["import", path("stray.safetensors"), "--base", basePath, "--output", path("out.safetensors"), "--allow-unmatched"])
        XCTAssertEqual(allowed.exitCode, 0, allowed.standardError)
        XCTAssertTrue(allowed.standardOutput.contains("skipped 3 keys"), allowed.standardOutput)
        XCTAssertEqual(try AdapterFile.read(contentsOf: URL(fileURLWithPath: path("out.safetensors"))).slots.count, 32)
    }

    func testHelpGivesUnitOfEveryValueOption() throws {
        for command in ["export", "import", "inspect"] {
            let result = try runHyperfield([command, "--help"])
            XCTAssertEqual(result.exitCode, 0, command)
            XCTAssertTrue(result.standardOutput.contains("usage: hyperfield \(command)"), command)
        }
        let help = try runHyperfield(["export", "--help"]).standardOutput
        for option in ["--rank <int>", "--scale <number>", "--step <text>", "--every <int>", "--slots <text,...>"] {
            let line = help.split(separator: "\n").first { $0.contains(option) }
            XCTAssertNotNil(line, "\(option) is missing from the help")
        }
        // Each of these options' help entries names its unit, wherever the
        // help wraps its lines.
        let flattened = help.split(whereSeparator: { $0 == " " || $0 == "\n" }).joined(separator: " ")
        for unit in ["unit: rank", "unit: factor", "unit: fraction of S, or steps", "unit: steps", "unit: glob patterns"] {
            XCTAssertTrue(flattened.contains(unit), unit)
        }
    }
}
