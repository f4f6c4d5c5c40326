import ImageIO
import TensorCore

/// Summary of a fitted whitening.
public struct WhiteningFit: Equatable, Sendable {
    /// Images whose last feature maps were analysed.
    public let imageCount: Int
    /// Values of each flattened map, and the components kept.
    public let inputWidth: Int
    public let width: Int
    /// Share of the maps' total variance in the kept components, in [0, 1].
    public let keptVariance: Double
    /// Largest and smallest kept eigenvalue of the maps' covariance.
    public let largestEigenvalue: Double
    public let smallestKeptEigenvalue: Double
}

extension FeatureNet {
    /// Fits the whitening of the `whitened` embedding to `images`, which need
    /// no labels. The weight projects a flattened last feature map onto the
    /// leading principal components of the maps' covariance. Each component
    /// is divided by `sqrt(eigenvalue + regularization * largest eigenvalue)`,
    /// and the bias subtracts the projected mean map.
    ///
    /// - Throws: `TensorCoreError.invalidState` when there are fewer images
    ///   than twice the kept components, or the maps hold values that are not
    ///   finite.
    @discardableResult
    public func fitWhitening(to images: [RGBImage], batchSize: Int = 64) throws -> WhiteningFit {
        guard let whitening, let settings = configuration.whitening else {
            preconditionFailure("FeatureNet.fitWhitening: the net has no whitening")
        }
        let inputWidth = configuration.finalMapValues
        guard images.count >= 2 * settings.width else {
            throw TensorCoreError.invalidState(
                "fitting a whitening of \(settings.width) components needs at least \(2 * settings.width) images, got \(images.count)")
        }

        // The flattened maps, one row per image, and their mean.
        let side = configuration.imageSize
        var rows: [Float] = []
        rows.reserveCapacity(images.count * inputWidth)
        for start in stride(from: 0, to: images.count, by: max(batchSize, 1)) {
            let batch = images[start..<min(start + batchSize, images.count)].map { image in
                image.width == side && image.height == side ? image : image.resized(side: side)
            }
            rows += GradMode.withoutGradients { lastFeatureMap(batchTensor(batch)) }.data
        }
        var mean = [Double](repeating: 0, count: inputWidth)
        for row in 0..<images.count {
            let offset = row * inputWidth
            for column in 0..<inputWidth { mean[column] += Double(rows[offset + column]) }
        }
        for column in 0..<inputWidth { mean[column] /= Double(images.count) }
        for row in 0..<images.count {
            let offset = row * inputWidth
            for column in 0..<inputWidth { rows[offset + column] -= Float(mean[column]) }
        }

        // Covariance of the centred maps, then its eigenvectors.
        let centred = Tensor(shape: [images.count, inputWidth], data: rows)
        rows = []
        let covariance = GradMode.withoutGradients { centred.transposedLastTwo().matmul(centred) }
        let scale = 1 / Double(images.count)
        let decomposition = try SymmetricEigenDecomposition(
            symmetric: covariance.data.map { Double($0) * scale }, size: inputWidth)

        // Rows of the weight: kept eigenvectors over their damped scales.
        let largest = max(decomposition.values[0], 0)
        let damping = Double(settings.regularization) * largest
        var weight = [Float](repeating: 0, count: settings.width * inputWidth)
        var bias = [Float](repeating: 0, count: settings.width)
        for component in 0..<settings.width {
            let variance = max(decomposition.values[component], 0) + damping
            guard variance > 0 else {
                throw TensorCoreError.invalidState(
                    "the feature maps vary in fewer than \(settings.width) directions; fit the whitening to more varied images or keep fewer components")
            }
            let factor = 1 / variance.squareRoot()
            var shift = 0.0
            for column in 0..<inputWidth {
                let value = decomposition.vectors[component * inputWidth + column] * factor
                weight[component * inputWidth + column] = Float(value)
                shift += value * mean[column]
            }
            bias[component] = Float(-shift)
        }
        whitening.weight.data = weight
        whitening.bias?.data = bias

        let total = decomposition.values.reduce(0) { $0 + max($1, 0) }
        let retained = decomposition.values.prefix(settings.width).reduce(0) { $0 + max($1, 0) }
        return WhiteningFit(
            imageCount: images.count, inputWidth: inputWidth, width: settings.width,
            keptVariance: total > 0 ? retained / total : 0, largestEigenvalue: largest,
            smallestKeptEigenvalue: decomposition.values[settings.width - 1])
    }
}
