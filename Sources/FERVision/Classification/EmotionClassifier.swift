/// One image's result: a probability per class, and the most probable class.
public struct EmotionPrediction: Equatable, Sendable {
    /// The model's class names, in output order.
    public let classNames: [String]
    /// Softmax probabilities, one per class, summing to 1.
    public let probabilities: [Float]

    public init(classNames: [String], probabilities: [Float]) {
        precondition(classNames.count == probabilities.count && !classNames.isEmpty)
        self.classNames = classNames
        self.probabilities = probabilities
    }

    /// Index of the most probable class (the first, on ties).
    public var topIndex: Int { probabilities.indices.max { probabilities[$0] < probabilities[$1] || (probabilities[$0] == probabilities[$1] && $0 > $1) }! }
    /// Name of the most probable class.
    public var label: String { classNames[topIndex] }
    /// Probability of the most probable class.
    public var confidence: Float { probabilities[topIndex] }
}

/// A loaded model with its preprocessing: images in, emotions out.
///
/// Thread safety: immutable; classify from any number of threads at once.
public final class EmotionClassifier: Sendable {
    public let model: LoadedModel
    public let network: ResNet9
    public let preprocessor: Preprocessor

    public init(model: LoadedModel) {
        self.model = model
        self.network = model.makeNetwork()
        self.preprocessor = Preprocessor(metadata: model.metadata)
    }

    /// Loads the model file at `path` (see `ModelLoader.load`).
    public convenience init(path: String, overrides: ModelOverrides = .init()) throws(ModelFileError) {
        self.init(model: try ModelLoader.load(path: path, overrides: overrides))
    }

    public var classNames: [String] { model.metadata.classNames }

    /// Classifies each image's center square (or `crops[i]` when given), in one batched pass.
    public func classify(_ images: [ByteImage], crops: [PixelRect]? = nil) -> [EmotionPrediction] {
        precondition(crops == nil || crops!.count == images.count)
        let length = preprocessor.inputLength
        var scalars = [Float]()
        scalars.reserveCapacity(images.count * length)
        for (i, image) in images.enumerated() {
            scalars += preprocessor.input(for: image, crop: crops?[i]) ?? [Float](repeating: 0, count: length)
        }
        let size = preprocessor.inputSize
        return predictions(for: Tensor(shape: [images.count, preprocessor.channels, size, size], scalars: scalars))
    }

    /// Predictions for already preprocessed inputs [N, channels, size, size].
    public func predictions(for inputs: Tensor) -> [EmotionPrediction] {
        let logits = network.logits(for: inputs)
        let classes = classNames.count
        let probabilities = softmaxRows(logits.scalars, columns: classes)
        return (0..<inputs.shape[0]).map { i in
            EmotionPrediction(classNames: classNames, probabilities: Array(probabilities[i * classes..<(i + 1) * classes]))
        }
    }
}
