import Foundation
import TestSupport
import XCTest
@testable import Diffusion
@testable import TensorCore

/// Eight latents of two classes with a clear pattern each, so a tiny
/// denoiser can learn them in a few hundred steps.
func tinyLatentSet(_ configuration: DenoiserConfiguration) -> LabeledSamples {
    var samples = LabeledSamples(sampleShape: [configuration.latentChannels, configuration.latentSize, configuration.latentSize])
    var rng = SeededGenerator(seed: 21)
    let size = configuration.latentSize
    for index in 0..<8 {
        let classIndex = index % 2
        var values: [Float] = []
        for c in 0..<configuration.latentChannels {
            for y in 0..<size {
                for x in 0..<size {
                    // Class 0: left half bright; class 1: top half bright.
                    let coordinate = classIndex == 0 ? x : y
                    let pattern: Float = coordinate < size / 2 ? 1 : -1
                    values.append(pattern * (c == 0 ? 1 : -0.5) + rng.normal() * 0.05)
                }
            }
        }
        samples.append(values, classIndex: classIndex, subject: index)
    }
    return samples
}

func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("hyperfield-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

final class TrainerTests: XCTestCase {
    private func makeTask(seed: UInt64 = 1) -> DenoiserTask {
        let configuration = tinyDenoiserConfiguration()
        return DenoiserTask(
            denoiser: Denoiser(configuration, seed: seed), schedule: NoiseSchedule(kind: .linear, timesteps: 100),
            latents: tinyLatentSet(configuration))
    }

    private func settings(steps: Int) -> TrainingSettings {
        var settings = TrainingSettings()
        settings.steps = steps
        settings.batchSize = 8
        settings.learningRate = 3e-3
        settings.warmupSteps = 10
        settings.minimumLearningRate = 3e-4
        settings.checkpointEvery = 0
        settings.seed = 5
        return settings
    }

    func testTrainingLowersLoss() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var losses: [Float] = []
        let trainer = Trainer(task: makeTask(), settings: settings(steps: 300), store: CheckpointStore(folder: folder))
        try trainer.run(events: { event in
            if case .step(_, let loss, _, _) = event { losses.append(loss) }
        })
        let first = losses.prefix(30).reduce(0, +) / 30
        let last = losses.suffix(30).reduce(0, +) / 30
        XCTAssertLessThan(last, 0.6 * first, "mean loss of the first 30 steps \(first), of the last 30 \(last)")
    }

    func testResumeEqualsUninterruptedRun() throws {
        let folderA = try temporaryFolder(), folderB = try temporaryFolder()
        defer {
            try? FileManager.default.removeItem(at: folderA)
            try? FileManager.default.removeItem(at: folderB)
        }
        var withEMA = settings(steps: 40)
        withEMA.emaDecay = 0.9

        let uninterrupted = makeTask()
        try Trainer(task: uninterrupted, settings: withEMA, store: CheckpointStore(folder: folderA)).run()

        // The same run, stopped after step 20 as a time budget would stop it.
        try Trainer(task: makeTask(), settings: withEMA, store: CheckpointStore(folder: folderB)).run(shouldStop: { $0 == 20 })
        // A fresh process would build the model from scratch: a different
        // seed proves every weight comes from the checkpoint.
        let resumedTask = makeTask(seed: 99)
        let resumed = Trainer(task: resumedTask, settings: withEMA, store: CheckpointStore(folder: folderB))
        XCTAssertEqual(try resumed.resumeIfPossible(), 20)
        try resumed.run()

        for (a, b) in zip(uninterrupted.denoiser.namedParameters(), resumedTask.denoiser.namedParameters()) {
            XCTAssertEqual(a.tensor.data.map { $0.bitPattern }, b.tensor.data.map { $0.bitPattern }, "parameter \(a.name) differs")
        }
        let emaA = try SafeTensors.read(contentsOf: folderA.appendingPathComponent("checkpoint-40/state.safetensors"))
        let emaB = try SafeTensors.read(contentsOf: folderB.appendingPathComponent("checkpoint-40/state.safetensors"))
        XCTAssertEqual(emaA.tensorsByName.keys.sorted(), emaB.tensorsByName.keys.sorted())
        for (name, tensor) in emaA.tensorsByName {
            XCTAssertEqual(tensor.data.map { $0.bitPattern }, emaB.tensorsByName[name]!.data.map { $0.bitPattern }, "state \(name) differs")
        }
    }

    func testResumeWithOtherArchitectureNamesBothValues() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Trainer(task: makeTask(), settings: settings(steps: 2), store: CheckpointStore(folder: folder)).run()
        var wider = tinyDenoiserConfiguration()
        wider.channels = [8, 24]
        let task = DenoiserTask(
            denoiser: Denoiser(wider), schedule: NoiseSchedule(kind: .linear, timesteps: 100), latents: tinyLatentSet(wider))
        let trainer = Trainer(task: task, settings: settings(steps: 4), store: CheckpointStore(folder: folder))
        XCTAssertThrowsError(try trainer.resumeIfPossible()) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("channels"), text)
            XCTAssertTrue(text.contains("16"), text)
            XCTAssertTrue(text.contains("24"), text)
        }
    }

    func testSettingDifferencesNameValues() {
        let saved = settings(steps: 100)
        XCTAssertEqual(saved.differences(from: saved), [])
        var given = saved
        given.warmupSteps = 200
        given.seed = 9
        XCTAssertEqual(saved.differences(from: given), ["warm-up steps 10 (given 200)", "seed 5 (given 9)"])
    }

    func testCheckpointRotationAndLatestPointer() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var every = settings(steps: 10)
        every.checkpointEvery = 2
        every.keepCheckpoints = 2
        try Trainer(task: makeTask(), settings: every, store: CheckpointStore(folder: folder, keep: 2)).run()
        let store = CheckpointStore(folder: folder, keep: 2)
        XCTAssertEqual(store.steps(), [8, 10])
        XCTAssertEqual(try store.latest()?.lastPathComponent, "checkpoint-10")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [])
    }

    func testNonFiniteLossStopsWithStepAndCheckpoint() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let task = makeTask()
        var every = settings(steps: 10)
        every.checkpointEvery = 3
        let trainer = Trainer(task: task, settings: every, store: CheckpointStore(folder: folder))
        XCTAssertThrowsError(try trainer.run(events: { event in
            // Poison the weights after step 4, so the next loss is NaN.
            if case .step(4, _, _, _) = event { task.denoiser.namedParameters()[0].tensor.data[0] = .nan }
        })) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("step 4"), text)
            XCTAssertTrue(text.contains("checkpoint-3"), text)
        }
    }
}
