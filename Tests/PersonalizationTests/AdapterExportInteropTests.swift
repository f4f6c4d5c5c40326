import Diffusion
import Foundation
import TensorCore
import XCTest
@testable import Personalization

/// Checks adapter files against the reference Python implementation of
/// safetensors: files written here load there with the same names, dtypes,
/// shapes and values, and files written there import here.
///
/// The test installs the PyPI packages `safetensors` and `numpy` into
/// `.build/interop-venv` once and reuses that environment. It is skipped,
/// with the reason, when python3 is missing or pip cannot install the
/// packages (for example without access to PyPI).
final class AdapterExportInteropTests: XCTestCase {
    private static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    private static let script = repositoryRoot.appendingPathComponent("Tests/PersonalizationTests/Python/safetensors_interop.py")
    private static let environment = repositoryRoot.appendingPathComponent(".build/interop-venv")

    // MARK: - Python environment

    /// Output of a finished process.
    private struct ProcessResult {
        let exitCode: Int32
        let output: String
    }

    /// Runs `executable` with `arguments`, stopping it after `timeout`
    /// seconds, and returns its exit code and combined output.
    private func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 120) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let deadline = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        deadline.cancel()
        return ProcessResult(exitCode: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// Outcome of the first `interopPython()` call in this process, so that a
    /// failed install is not retried by every test. XCTest runs the tests of
    /// a class one after another, so no lock is needed.
    nonisolated(unsafe) private static var preparedPython: Result<String, any Error>?

    /// Returns the virtual environment's python with safetensors and numpy,
    /// creating the environment on the first call, or skips the test.
    private func interopPython() throws -> String {
        if let preparedPython = Self.preparedPython { return try preparedPython.get() }
        let result = Result { try prepareEnvironment() }
        Self.preparedPython = result
        return try result.get()
    }

    private func prepareEnvironment() throws -> String {
        let python = Self.environment.appendingPathComponent("bin/python").path
        if FileManager.default.isExecutableFile(atPath: python),
           try run(python, ["-c", "import safetensors, numpy"]).exitCode == 0 {
            return python
        }

        let version = try run("python3", ["--version"])
        guard version.exitCode == 0 else {
            throw XCTSkip("python3 is not installed, so the safetensors interoperability test cannot run: \(version.output)")
        }
        let create = try run("python3", ["-m", "venv", "--clear", Self.environment.path])
        guard create.exitCode == 0 else {
            throw XCTSkip("python3 -m venv failed, so the interoperability test cannot run; install the venv module (python3-venv on Debian): \(lastLines(create.output))")
        }
        let install = try run(
            python, ["-m", "pip", "install", "--disable-pip-version-check", "--quiet", "--timeout", "30", "--retries", "1",
                     "safetensors", "numpy"],
            timeout: 600)
        guard install.exitCode == 0 else {
            throw XCTSkip("pip could not install safetensors and numpy from PyPI into \(Self.environment.path), so the interoperability test is skipped: \(lastLines(install.output))")
        }
        return python
    }

    private func lastLines(_ text: String) -> String {
        text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    /// A failed run of the interoperability script, with its output.
    private struct ScriptFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs the interoperability script.
    ///
    /// - Throws: `ScriptFailure` with the script's output when it fails.
    private func runScript(_ python: String, _ arguments: [String]) throws {
        let result = try run(python, [Self.script.path] + arguments)
        guard result.exitCode == 0 else {
            throw ScriptFailure(description: "safetensors_interop.py \(arguments.first ?? "") exited with \(result.exitCode): \(result.output)")
        }
    }

    // MARK: - Tests

    func testFilesWrittenHereLoadInPython() throws {
        let python = try interopPython()
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser(convolutionSlots: true)
        let adapter = makeRandomAdapter(for: base.slots, rank: 3, alpha: 6, seed: 101)
        let files = [
            (format: AdapterFormat.native, dtype: SafeTensorsDType.f32, url: folder.appendingPathComponent("native.safetensors")),
            (format: .peft, dtype: .f32, url: folder.appendingPathComponent("peft")),
            (format: .kohya, dtype: .f16, url: folder.appendingPathComponent("kohya.safetensors")),
            (format: .kohya, dtype: .bf16, url: folder.appendingPathComponent("kohya-bf16.safetensors")),
        ]
        var paths: [String] = []
        for file in files {
            try AdapterExport.write(adapter, format: file.format, to: file.url, dtype: file.dtype)
            paths.append(file.format == .peft ? file.url.appendingPathComponent("adapter_model.safetensors").path : file.url.path)
        }
        // numpy has no bfloat16, so Python reads only the other three files.
        let report = folder.appendingPathComponent("report.json")
        try runScript(python, ["read", report.path] + paths.filter { !$0.hasSuffix("kohya-bf16.safetensors") })

        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: report)) as? [String: Any])
        let loaded = try XCTUnwrap(object["files"] as? [String: [String: Any]])
        for path in paths where !path.hasSuffix("kohya-bf16.safetensors") {
            let entry = try XCTUnwrap(loaded[path], path)
            let ours = try SafeTensors.read(contentsOf: URL(fileURLWithPath: path))
            XCTAssertEqual(entry["metadata"] as? [String: String], ours.metadata, path)

            let tensors = try XCTUnwrap(entry["tensors"] as? [String: [String: Any]], path)
            XCTAssertEqual(Set(tensors.keys), Set(ours.tensors.map(\.name)), path)
            for tensor in ours.tensors {
                let theirs = try XCTUnwrap(tensors[tensor.name], "\(path): \(tensor.name)")
                let dtype = tensor.entry.dtype == .f16 ? "float16" : "float32"
                XCTAssertEqual(theirs["dtype"] as? String, dtype, "\(path): \(tensor.name)")
                XCTAssertEqual(theirs["shape"] as? [Int], tensor.entry.shape, "\(path): \(tensor.name)")
                let values = try XCTUnwrap(theirs["values"] as? [NSNumber], "\(path): \(tensor.name)").map(\.floatValue)
                XCTAssertEqual(values, tensor.tensor.data, "\(path): \(tensor.name)")
            }
        }

        // The F32 files hold the engine's values exactly.
        let native = try XCTUnwrap(loaded[paths[0]]?["tensors"] as? [String: [String: Any]])
        let name = "mid.res.0.conv1"
        let down = try XCTUnwrap(native[name + ".lora_A.weight"]?["values"] as? [NSNumber]).map(\.floatValue)
        XCTAssertEqual(down, adapter.slots[name]!.a.data)
        XCTAssertEqual(native[name + ".lora_A.weight"]?["shape"] as? [Int], [3, 16, 3, 3])
        XCTAssertEqual((native[name + ".alpha"]?["values"] as? [NSNumber])?.map(\.floatValue), [6])

        let configuration = try XCTUnwrap(loaded[paths[1]]?["adapter_config"] as? [String: Any])
        XCTAssertEqual(configuration["r"] as? Int, 3)
        XCTAssertEqual((configuration["lora_alpha"] as? NSNumber)?.floatValue, 6)
        XCTAssertEqual((configuration["target_modules"] as? [String])?.count, base.slots.count)
    }

    func testFilesWrittenInPythonImportHere() throws {
        let python = try interopPython()
        let folder = try makeTemporaryFolder(self)
        let base = makeTinyDenoiser(convolutionSlots: true)
        let chosen = ["mid.attn.0.attn1.to_q", "up.0.attn.1.attn2.to_out", "mid.res.0.conv1", "down.1.attn.0.attn2.to_k", "up.1.res.1.conv2"]
        let slots = chosen.map { name in base.slots.first { $0.name == name }! }
        let spec: [String: Any] = [
            "rank": 3, "seed": 5,
            "slots": slots.map { ["name": $0.name, "kind": $0.kind.rawValue, "in": $0.inFeatures, "out": $0.outFeatures, "kernel": $0.kernel] },
        ]
        let specURL = folder.appendingPathComponent("spec.json")
        try JSONSerialization.data(withJSONObject: spec).write(to: specURL)
        try runScript(python, ["write", specURL.path, folder.path])

        let expectedObject = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("expected.json")))
        let expected = try XCTUnwrap(expectedObject as? [String: [String: [String: Any]]])
        let sources = [(format: AdapterFormat.kohya, url: folder.appendingPathComponent("python-kohya.safetensors")),
                       (format: .peft, url: folder.appendingPathComponent("python-peft"))]
        for (format, url) in sources {
            let imported = try AdapterImport.read(contentsOf: url, base: base)
            XCTAssertEqual(imported.format, format)
            XCTAssertEqual(imported.adapter.slotNames, chosen.sorted(), "\(format)")
            for name in chosen {
                let values = try XCTUnwrap(expected[format.rawValue]?[name], "\(format): \(name)")
                let weights = try XCTUnwrap(imported.adapter.slots[name], "\(format): \(name)")
                XCTAssertEqual(weights.a.data, try XCTUnwrap(values["a"] as? [NSNumber]).map(\.floatValue), "\(format): A of \(name)")
                XCTAssertEqual(weights.b.data, try XCTUnwrap(values["b"] as? [NSNumber]).map(\.floatValue), "\(format): B of \(name)")
                XCTAssertEqual(weights.alpha, (values["alpha"] as? NSNumber)?.floatValue, "\(format): alpha of \(name)")
                XCTAssertEqual(weights.rank, 3, "\(format): rank of \(name)")
            }
            // The imported adapter runs in the denoiser.
            let output = denoiserOutput(base, adapter: imported.adapter)
            XCTAssertTrue(output.allSatisfy(\.isFinite), "\(format)")
        }
    }
}
