/// One image's result: a probability per class, and the class shown for it.
public struct EmotionPrediction: Equatable, Sendable {
    /// The model's class names, in output order.
    public let classNames: [String]
    /// Softmax probabilities, one per class, summing to 1.
    public let probabilities: [Float]
    /// The class shown: the most probable, unless a `LabelSmoother` holds on to the previous one.
    public let shownIndex: Int

    public init(classNames: [String], probabilities: [Float], shownIndex: Int? = nil) {
        precondition(classNames.count == probabilities.count && !classNames.isEmpty)
        self.classNames = classNames
        self.probabilities = probabilities
        self.shownIndex = shownIndex ?? Self.argmax(probabilities)
    }

    /// Index of the most probable class (the first, on ties).
    public var topIndex: Int { Self.argmax(probabilities) }
    /// Name of the shown class.
    public var label: String { classNames[shownIndex] }
    /// Probability of the shown class.
    public var confidence: Float { probabilities[shownIndex] }

    private static func argmax(_ values: [Float]) -> Int {
        values.indices.max { values[$0] < values[$1] || (values[$0] == values[$1] && $0 > $1) }!
    }
}

/// A loaded model with its preprocessing and calibration: images in, emotions out.
///
/// Probabilities are softmax(logits / temperature), with the temperature the model file carries (fitted
/// on validation data, `Calibration`). With `flipAveraging`, each image's logits are the mean of its own
/// and its mirror image's (one batch of twice the size), and the flip temperature applies.
///
/// Thread safety: immutable; classify from any number of threads at once.
public final class EmotionClassifier: Sendable {
    public let model: LoadedModel
    public let network: ResNet9
    public let preprocessor: Preprocessor
    /// Test-time flip averaging.
    public let flipAveraging: Bool

    public init(model: LoadedModel, flipAveraging: Bool = false) {
        self.model = model
        self.network = model.makeNetwork()
        self.preprocessor = Preprocessor(metadata: model.metadata)
        self.flipAveraging = flipAveraging
    }

    /// Loads the model file at `path` (see `ModelLoader.load`).
    public convenience init(path: String, overrides: ModelOverrides = .init(), flipAveraging: Bool = false) throws(ModelFileError) {
        self.init(model: try ModelLoader.load(path: path, overrides: overrides), flipAveraging: flipAveraging)
    }

    public var classNames: [String] { model.metadata.classNames }

    /// The temperature this classifier's probabilities use.
    public var temperature: Float { flipAveraging ? model.metadata.flipTemperature : model.metadata.temperature }

    /// Classifies each image's center square (or `crops[i]` when given: a face in `images[i]`), in one
    /// batched pass.
    public func classify(_ images: [ByteImage], crops: [FaceCrop]? = nil) -> [EmotionPrediction] {
        precondition(crops == nil || crops!.count == images.count)
        return predictions(for: inputs(images, crops: crops))
    }

    /// The network inputs [N, channels, size, size] for images (center squares, or the given crops).
    private func inputs(_ images: [ByteImage], crops: [FaceCrop]?) -> Tensor {
        let length = preprocessor.inputLength
        var scalars = [Float]()
        scalars.reserveCapacity(images.count * length)
        for (i, image) in images.enumerated() {
            let input = crops.map { preprocessor.input(for: image, crop: $0[i]) } ?? preprocessor.input(for: image)
            scalars += input ?? [Float](repeating: 0, count: length)
        }
        let size = preprocessor.inputSize
        return Tensor(shape: [images.count, preprocessor.channels, size, size], scalars: scalars)
    }

    /// Predictions for already preprocessed inputs [N, channels, size, size].
    public func predictions(for inputs: Tensor) -> [EmotionPrediction] {
        let classes = classNames.count
        let scaled = logits(for: inputs).map { $0 / temperature }
        let probabilities = softmaxRows(scaled, columns: classes)
        return (0..<inputs.shape[0]).map { i in
            EmotionPrediction(classNames: classNames, probabilities: Array(probabilities[i * classes..<(i + 1) * classes]))
        }
    }

    /// Raw logits [N * classes] for preprocessed inputs: the network's, or with `flipAveraging` the mean of
    /// each input's and its mirror image's, before any temperature.
    public func logits(for inputs: Tensor) -> [Float] {
        guard flipAveraging else { return network.logits(for: inputs).scalars }
        let n = inputs.shape[0], side = inputs.shape[3], classes = classNames.count
        var both = inputs.scalars
        both.reserveCapacity(2 * inputs.count)
        var mirrored = inputs.scalars
        for row in stride(from: 0, to: mirrored.count, by: side) { mirrored[row..<row + side].reverse() }
        both += mirrored
        var shape = inputs.shape
        shape[0] = 2 * n
        let all = network.logits(for: Tensor(shape: shape, scalars: both)).scalars
        return (0..<n * classes).map { (all[$0] + all[n * classes + $0]) / 2 }
    }
}
