import CommandLineKit
import Diffusion
import Foundation
import Personalization
import TensorCore

/// `hyperfield import`: reads an adapter in any supported format and writes
/// it as a HyperField adapter file for a given base denoiser.
struct ImportCommand: Command {
    let name = "import"
    let summary = "read a native, PEFT, kohya or merged adapter for a base denoiser and write a HyperField adapter file"
    let description = """
        Every key of the file must name a slot of the base denoiser; kohya's \
        underscored names are resolved against the base model's slot names. \
        Keys that match no slot make the import fail unless \
        --allow-unmatched is given, and a file in which no key matches always \
        fails.

        Rank is read from the tensor shapes. A slot without alpha gets alpha \
        = rank, and alpha may be stored in any dtype with shape [] or [1]. A \
        merged denoiser is separated from the base model by SVD at the rank \
        that its merge record gives.

          hyperfield import subject-kohya.safetensors --base models/denoiser.safetensors --output subject.safetensors
        """

    let input = Option.path("file", help: "adapter file, PEFT folder or merged denoiser to import").positional()
    let base = Option.path("base", help: "base denoiser file whose slots the keys must match")
    let output = Option.path("output", help: "HyperField adapter file to write")
    let format = Option.choice(
        "format", choices: ["auto"] + AdapterFormat.allCases.map(\.rawValue), default: "auto",
        help: "format of the input; auto tells it from the metadata and keys")
    let allowUnmatched = Option.flag("allow-unmatched", help: "skip keys that match no slot of the base model, with a warning, instead of failing")
    let json = Option.json

    var options: [any CommandOption] { [input, base, output, format, allowUnmatched, json] }

    func run(_ arguments: ParsedArguments) throws {
        let logger = Logger()
        let inputPath = arguments[input]
        let inputURL = URL(fileURLWithPath: inputPath)
        guard FileManager.default.fileExists(atPath: inputURL.path) else {
            throw RuntimeError("\(inputPath) does not exist; pass an adapter file, a PEFT folder or a merged denoiser")
        }
        let baseModel = try BaseModel.load(arguments[base])
        let format = AdapterFormat(rawValue: arguments[self.format])

        let imported = try AdapterImport.read(
            contentsOf: inputURL, base: baseModel.model, format: format, allowUnmatched: arguments[allowUnmatched])
        for note in imported.notes { logger.warning("\(inputPath): \(note)") }
        var adapter = imported.adapter
        baseModel.stamp(&adapter, adapterLabel: inputPath, logger: logger)

        let outputURL = URL(fileURLWithPath: arguments[output])
        try AdapterFile.write(adapter, to: outputURL)

        let summary = AdapterSummary(ImportedAdapter(
            adapter: adapter, format: imported.format, unmatchedKeys: imported.unmatchedKeys, notes: imported.notes))
        if arguments[json] {
            try JSONOutput.write(ImportReport(output: outputURL.path, adapter: summary))
            return
        }
        let ranks = Set(summary.slots.map(\.rank)).sorted().map(String.init).joined(separator: ", ")
        let alphas = Set(summary.slots.map(\.alpha)).sorted().map { String(format: "%g", $0) }.joined(separator: ", ")
        print("read \(summary.slots.count) slots from \(inputPath) (\(imported.format.rawValue); rank \(ranks); alpha \(alphas))")
        if !imported.unmatchedKeys.isEmpty {
            print("skipped \(imported.unmatchedKeys.count) keys that match no slot of \(baseModel.path)")
        }
        print("wrote \(outputURL.path)")
    }
}

/// The `--json` output of `hyperfield import`.
struct ImportReport: Encodable {
    let output: String
    let adapter: AdapterSummary
}
