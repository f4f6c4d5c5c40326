import CommandLineKit
import Diffusion
import Foundation
import Personalization
import TensorCore

/// `hyperfield inspect`: shows what a safetensors file contains and, for an
/// adapter, its slots.
struct InspectCommand: Command {
    let name = "inspect"
    let summary = "show the metadata and tensors of a safetensors file, and the slots of an adapter"
    let description = """
        For any safetensors file: the metadata, and each tensor's name, \
        dtype, shape and size in bytes, read from the header alone. For an \
        adapter (native, PEFT or kohya) also each slot's rank, alpha, scale \
        alpha / r and update norm ‖(alpha / r)·B·A‖_F, the convergence \
        state, and a warning when every B is zero, so that the adapter \
        changes nothing. Kohya names keep their underscores unless --base \
        resolves them to slot names. For a merged denoiser, the merge record; \
        with --base also the separated adapter.

          hyperfield inspect subject.safetensors
          hyperfield inspect subject-peft --json
        """

    let input = Option.path("file", help: "safetensors file or PEFT folder to inspect").positional()
    let base = Option.path("base", help: "base denoiser file, to resolve kohya names and to separate a merged adapter").optional()
    let json = Option.json

    var options: [any CommandOption] { [input, base, json] }

    func run(_ arguments: ParsedArguments) throws {
        let inputPath = arguments[input]
        var url = URL(fileURLWithPath: inputPath)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw RuntimeError("\(inputPath) does not exist; pass a safetensors file or a PEFT folder")
        }
        let folderURL = isFolder.boolValue ? url : nil
        if let folderURL { url = folderURL.appendingPathComponent(PEFTFormat.weightsFileName) }

        let header = try SafeTensors.readHeader(contentsOf: url)
        var report = InspectReport(path: url.path, header: header)
        let baseModel = try arguments[base].map { try BaseModel.load($0) }
        report.adapterFormat = folderURL != nil ? .peft : try? AdapterImport.detectFormat(at: url)
        // A denoiser is a merged adapter only if it records the merge.
        if report.adapterFormat == .merged && header.metadata[AdapterMerge.recordKey] == nil {
            report.adapterFormat = nil
        }

        // Adapter facts, if the file is one. A file that cannot be read as an
        // adapter still gets its listing, with the reason.
        if let format = report.adapterFormat {
            do {
                if format == .merged {
                    report.mergeRecord = header.metadata[AdapterMerge.recordKey]
                    if let baseModel {
                        let imported = try AdapterImport.read(contentsOf: url, base: baseModel.model, format: .merged)
                        report.adapter = AdapterSummary(imported)
                    }
                } else {
                    let imported = try AdapterImport.read(
                        contentsOf: folderURL ?? url, format: format, slots: baseModel?.model.slots, allowUnmatched: true)
                    report.adapter = AdapterSummary(imported)
                }
            } catch {
                report.adapterProblem = "\(error)"
            }
        }

        if arguments[json] {
            try JSONOutput.write(report)
        } else {
            print(report.text())
        }
    }
}

/// The facts that `hyperfield inspect` prints, in the `--json` layout.
struct InspectReport: Encodable {
    struct TensorRow: Encodable {
        let name: String
        let dtype: String
        let shape: [Int]
        let bytes: Int
    }

    let path: String
    let fileBytes: Int
    let headerBytes: Int
    let metadata: [String: String]
    let tensors: [TensorRow]
    var adapterFormat: AdapterFormat?
    var adapter: AdapterSummary?
    /// The `merged_adapter` JSON of a merged denoiser.
    var mergeRecord: String?
    /// The error that kept a file that looks like an adapter from being read as one.
    var adapterProblem: String?

    enum CodingKeys: String, CodingKey {
        case path
        case fileBytes = "file_bytes"
        case headerBytes = "header_bytes"
        case metadata, tensors
        case adapterFormat = "adapter_format"
        case adapter
        case mergeRecord = "merge_record"
        case adapterProblem = "adapter_problem"
    }

    init(path: String, header: SafeTensorsHeader) {
        self.path = path
        fileBytes = header.fileByteCount
        headerBytes = header.headerByteCount
        metadata = header.metadata
        tensors = header.entries
            .map { TensorRow(name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, bytes: $0.byteCount) }
            .sorted { $0.name < $1.name }
    }

    /// Formats the report as text: file, metadata, tensor table, then adapter
    /// slots and warnings.
    func text() -> String {
        var lines = ["file      \(path) (\(fileBytes) bytes, header \(headerBytes) bytes)"]

        lines.append("metadata  \(metadata.isEmpty ? "none" : "\(metadata.count) entries")")
        let keyWidth = metadata.keys.map(\.count).max() ?? 0
        for key in metadata.keys.sorted() {
            let value = metadata[key]!
            // Long values (a model configuration) are cut; --json shows them whole.
            let displayed = value.count > 100 ? value.prefix(100) + "… (\(value.count) characters)" : value
            lines.append("  " + key.padding(toLength: keyWidth, withPad: " ", startingAt: 0) + "  " + displayed)
        }

        let dtypeCounts = Dictionary(grouping: tensors, by: \.dtype).map { "\($0.key) \($0.value.count)" }.sorted()
        lines.append("tensors   \(tensors.count)" + (tensors.isEmpty ? "" : " (\(dtypeCounts.joined(separator: ", ")))"))
        let rows = tensors.map { [$0.name, $0.dtype, "\($0.shape)", "\($0.bytes)"] }
        lines += table(header: ["name", "dtype", "shape", "bytes"], rows: rows)

        if let adapterFormat {
            lines.append("adapter   \(adapterFormat.rawValue)")
        }
        if let mergeRecord {
            lines.append("  merge record  \(mergeRecord.count > 200 ? mergeRecord.prefix(200) + "…" : mergeRecord)")
        }
        if let adapter {
            lines += adapterLines(adapter)
        }
        if let adapterProblem {
            lines.append("warning: the file could not be read as an adapter: \(adapterProblem)")
        }
        return lines.joined(separator: "\n")
    }

    private func adapterLines(_ adapter: AdapterSummary) -> [String] {
        var lines: [String] = []
        if let s = adapter.convergenceState {
            lines.append("  convergence state  s = \(s)" + (adapter.convergenceSteps.map { " of S = \($0)" } ?? ""))
        } else {
            lines.append("  convergence state  not recorded")
        }
        if let hash = adapter.baseModelSHA256 { lines.append("  base model sha256  \(hash)") }
        if let count = adapter.subjectImageCount { lines.append("  subject images     \(count)") }
        lines.append("  slots              \(adapter.slots.count)")
        let rows = adapter.slots.map { slot in
            [slot.name, "\(slot.rank)", String(format: "%g", slot.alpha), String(format: "%g", slot.scale),
             String(format: "%.6g", slot.updateNorm)]
        }
        lines += table(header: ["slot", "rank", "alpha", "scale", "‖ΔW‖_F"], rows: rows)
        if !adapter.unmatchedKeys.isEmpty {
            lines.append("warning: \(adapter.unmatchedKeys.count) keys match no slot: \(adapter.unmatchedKeys.prefix(5).joined(separator: ", "))")
        }
        for note in adapter.notes where !note.hasPrefix("skipped") {
            lines.append("note: \(note)")
        }
        if adapter.everyUpIsZero {
            lines.append("warning: every B is zero, so the adapter changes nothing; it is an untrained initial adapter")
        }
        return lines
    }

    /// Left-aligned columns, indented by 2, separated by 2 spaces.
    private func table(header: [String], rows: [[String]]) -> [String] {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            "  " + row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }
}
