import Foundation

/// Tiles images into one picture, row by row, with an optional one-line
/// label above each row, for sample sheets and convergence-state strips.
public struct ImageGrid: Sendable {
    /// Number of images per row.
    public var columns: Int
    /// Gap in pixels around and between cells.
    public var spacing: Int = 2
    public var background: RGBColor = .white
    public var labelColor: RGBColor = .black
    /// Integer magnification of the 5x7 label font.
    public var labelScale: Int = 1

    public init(
        columns: Int, spacing: Int = 2, background: RGBColor = .white, labelColor: RGBColor = .black,
        labelScale: Int = 1
    ) {
        self.columns = columns
        self.spacing = spacing
        self.background = background
        self.labelColor = labelColor
        self.labelScale = labelScale
    }

    /// Renders `images` left to right, top to bottom. Every cell has the size
    /// of the largest image, and smaller images are centred in their cell.
    /// `rowLabels` is empty or has one label per row. Line breaks in a label
    /// become spaces, and a label wider than the grid is clipped.
    public func render(_ images: [RGBImage], rowLabels: [String] = []) throws -> RGBImage {
        guard columns >= 1, spacing >= 0, labelScale >= 1 else {
            throw ImageIOError(
                .invalidArgument, path: "<image grid>",
                problem: "columns and labelScale must be at least 1 and spacing at least 0, "
                    + "got \(columns), \(labelScale) and \(spacing)")
        }
        guard !images.isEmpty else {
            throw ImageIOError(.invalidArgument, path: "<image grid>", problem: "no images to tile")
        }
        let rowCount = (images.count + columns - 1) / columns
        guard rowLabels.isEmpty || rowLabels.count == rowCount else {
            throw ImageIOError(
                .invalidArgument, path: "<image grid>",
                problem: "\(rowLabels.count) row labels for \(rowCount) rows of \(columns) images")
        }

        let cellWidth = images.map(\.width).max()!
        let cellHeight = images.map(\.height).max()!
        let labelHeight = rowLabels.isEmpty ? 0 : BitmapFont.glyphHeight * labelScale + spacing
        let gridWidth = columns * cellWidth + (columns + 1) * spacing
        let gridHeight = rowCount * (labelHeight + cellHeight) + (rowCount + 1) * spacing
        var grid = RGBImage(width: gridWidth, height: gridHeight, color: background)

        var top = spacing
        for row in 0..<rowCount {
            if !rowLabels.isEmpty {
                let label = rowLabels[row].replacingOccurrences(of: "\r\n", with: " ")
                    .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ")
                BitmapFont.draw(label, into: &grid, x: spacing, y: top, scale: labelScale, color: labelColor)
                top += labelHeight
            }
            for column in 0..<columns {
                let index = row * columns + column
                guard index < images.count else { break }
                let image = images[index]
                let left = spacing + column * (cellWidth + spacing) + (cellWidth - image.width) / 2
                paste(image, into: &grid, x: left, y: top + (cellHeight - image.height) / 2)
            }
            top += cellHeight + spacing
        }
        return grid
    }

    /// Renders the grid and writes it as a PNG, through a temporary file
    /// that is renamed into place.
    public func writePNG(_ images: [RGBImage], rowLabels: [String] = [], to url: URL) throws {
        try ImageEncoder.writePNG(render(images, rowLabels: rowLabels), to: url)
    }

    private func paste(_ image: RGBImage, into grid: inout RGBImage, x: Int, y: Int) {
        let rowBytes = image.width * 3
        for row in 0..<image.height {
            let from = row * rowBytes
            let to = ((y + row) * grid.width + x) * 3
            grid.pixels.replaceSubrange(to..<(to + rowBytes), with: image.pixels[from..<(from + rowBytes)])
        }
    }
}
