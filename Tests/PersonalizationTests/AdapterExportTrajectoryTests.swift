import Diffusion
import Foundation
import TensorCore
import XCTest
@testable import Personalization

/// A stand-in for the field: the adapter at step s is θ_S with B scaled by
/// s / S, so every state is distinct and predictable.
private struct LinearTrajectorySource: AdapterSource {
    let final: Adapter
    let totalSteps: Int

    func adapter(atStep step: Int) -> Adapter {
        var adapter = Adapter()
        let fraction = Float(step) / Float(totalSteps)
        for (name, weights) in final.slots {
            adapter.slots[name] = LoRAWeights(
                a: weights.a, b: Tensor(shape: weights.b.shape, data: weights.b.data.map { $0 * fraction }), alpha: weights.alpha)
        }
        return adapter
    }
}

final class AdapterExportTrajectoryTests: XCTestCase {
    private let slots = makeTinyDenoiser().slots

    func testRequestedStepResolvesFractionAndWholeStep() throws {
        let source = LinearTrajectorySource(final: makeRandomAdapter(for: slots, rank: 2, alpha: 2, seed: 51), totalSteps: 10)
        let name = "mid.attn.0.attn1.to_q"
        let finalUp = source.final.slots[name]!.b.data

        let half = try AdapterExport.adapter(from: source, at: ConvergenceRequest("0.5"))
        XCTAssertEqual(half.convergenceState, 5)
        XCTAssertEqual(half.convergenceSteps, 10)
        XCTAssertEqual(half.slots[name]?.b.data, finalUp.map { $0 * 0.5 })

        let three = try AdapterExport.adapter(from: source, at: ConvergenceRequest("3"))
        XCTAssertEqual(three.convergenceState, 3)

        let last = try AdapterExport.adapter(from: source, at: nil)
        XCTAssertEqual(last.convergenceState, 10)
        XCTAssertEqual(last.slots[name]?.b.data, finalUp)
    }

    func testConvergenceRequestParsing() throws {
        XCTAssertEqual(ConvergenceRequest("0.5"), .fraction(0.5))
        XCTAssertEqual(ConvergenceRequest("1.0"), .fraction(1))
        XCTAssertEqual(ConvergenceRequest("250"), .step(250))
        XCTAssertEqual(ConvergenceRequest("5e-1"), .fraction(0.5))
        XCTAssertNil(ConvergenceRequest("half"))
        XCTAssertNil(ConvergenceRequest("nan"))
        XCTAssertEqual(try ConvergenceRequest.fraction(0.25).resolvedStep(totalSteps: 10), 3)
        XCTAssertEqual(try ConvergenceRequest.fraction(1).resolvedStep(totalSteps: 400), 400)
    }

    func testStepOutsideTrajectoryFails() {
        let source = LinearTrajectorySource(final: makeRandomAdapter(for: slots, rank: 2, alpha: 2, seed: 52), totalSteps: 10)
        for request in [ConvergenceRequest.step(11), .step(-1), .fraction(1.5), .fraction(-0.1)] {
            XCTAssertThrowsError(try AdapterExport.adapter(from: source, at: request), "\(request)") { error in
                XCTAssertEqual(error as? AdapterError, .stepOutOfRange(request: request.description, totalSteps: 10))
            }
        }
    }

    func testStepFromSingleStateFileFails() throws {
        let folder = try makeTemporaryFolder(self)
        let url = folder.appendingPathComponent("adapter.safetensors")
        try AdapterFile.write(makeRandomAdapter(for: slots, rank: 2, alpha: 2, seed: 53), to: url)
        let source = StoredAdapterSource(adapter: try AdapterFile.read(contentsOf: url), label: url.path)

        XCTAssertThrowsError(try AdapterExport.adapter(from: source, at: .fraction(0.5))) { error in
            XCTAssertEqual(error as? AdapterError, .singleState(source: url.path, option: "--step 0.5"))
            XCTAssertTrue("\(error)".contains("stores a single convergence state"), "\(error)")
        }
        XCTAssertThrowsError(try AdapterExport.writeTrajectory(
            from: source, settings: AdapterExportSettings(), format: .native, folder: folder.appendingPathComponent("steps"))
        ) { error in
            XCTAssertEqual(error as? AdapterError, .singleState(source: url.path, option: "--trajectory"))
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: folder.appendingPathComponent("steps").path))
        let stored = try AdapterExport.adapter(from: source, at: nil)
        XCTAssertEqual(stored.convergenceState, 40)
    }

    func testTrajectoryWritesOneFilePerStep() throws {
        let folder = try makeTemporaryFolder(self)
        let source = LinearTrajectorySource(final: makeRandomAdapter(for: slots, rank: 2, alpha: 2, seed: 54), totalSteps: 10)
        var settings = AdapterExportSettings()
        settings.slotPatterns = ["mid.*"]
        let files = try AdapterExport.writeTrajectory(
            from: source, every: 4, settings: settings, format: .native, folder: folder)

        XCTAssertEqual(files.map(\.step), [0, 4, 8, 10])
        XCTAssertEqual(files.map { URL(fileURLWithPath: $0.path).lastPathComponent },
                       ["step-0000.safetensors", "step-0004.safetensors", "step-0008.safetensors", "step-0010.safetensors"])
        let name = "mid.attn.0.attn2.to_k"
        for file in files {
            let adapter = try AdapterFile.read(contentsOf: URL(fileURLWithPath: file.path))
            XCTAssertEqual(adapter.slots.count, 8, file.path)
            XCTAssertEqual(adapter.convergenceState, file.step, file.path)
            XCTAssertEqual(adapter.convergenceSteps, 10, file.path)
            XCTAssertEqual(adapter.slots[name]?.b.data, source.adapter(atStep: file.step).slots[name]!.b.data, file.path)
        }
    }

    func testTrajectoryInPEFTWritesFolders() throws {
        let folder = try makeTemporaryFolder(self)
        let source = LinearTrajectorySource(final: makeRandomAdapter(for: slots, rank: 2, alpha: 2, seed: 55), totalSteps: 2)
        let files = try AdapterExport.writeTrajectory(from: source, settings: AdapterExportSettings(), format: .peft, folder: folder)
        XCTAssertEqual(files.map(\.step), [0, 1, 2])
        for file in files {
            let weights = URL(fileURLWithPath: file.path).appendingPathComponent("adapter_model.safetensors")
            XCTAssertTrue(FileManager.default.fileExists(atPath: weights.path), weights.path)
        }
    }
}
