import Foundation

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
/// An ensemble (`init(ensemble:)`) averages several models' calibrated probabilities: for offline
/// analysis, where each frame may cost one pass per model.
///
/// Thread safety: immutable; classify from any number of threads at once.
public final class EmotionClassifier: Sendable {
    /// The model (an ensemble's first): its class names and preprocessing are the classifier's.
    public let model: LoadedModel
    public let network: any EmotionNetwork
    public let preprocessor: Preprocessor
    /// Test-time flip averaging.
    public let flipAveraging: Bool
    /// Every model's network with its temperature: one for a single model.
    private let members: [(network: any EmotionNetwork, temperature: Float)]

    /// - Parameter network: what runs the model's weights (default: `ResNet9`, in float); an 8-bit
    ///   `QuantizedResNet9` of the same model, for instance.
    public init(model: LoadedModel, network: (any EmotionNetwork)? = nil, flipAveraging: Bool = false) {
        self.model = model
        self.network = network ?? model.makeNetwork()
        self.preprocessor = Preprocessor(metadata: model.metadata)
        self.flipAveraging = flipAveraging
        members = [(self.network, flipAveraging ? model.metadata.flipTemperature : model.metadata.temperature)]
    }

    /// An ensemble of `models` (at least one), each calibrated by its own temperature. They must agree on
    /// class names and preprocessing (input size, channels, mean and std); `paths` name them in errors.
    public init(ensemble models: [LoadedModel], paths: [String], flipAveraging: Bool = false) throws(ModelFileError) {
        precondition(!models.isEmpty && models.count == paths.count, "an ensemble needs a path for each of its models")
        let first = models[0].metadata
        for (other, path) in zip(models, paths).dropFirst() {
            let metadata = other.metadata
            let differences = [metadata.classNames != first.classNames ? "class names \(metadata.classNames)" : nil,
                               metadata.inputSize != first.inputSize ? "input size \(metadata.inputSize)" : nil,
                               metadata.inputChannels != first.inputChannels ? "\(metadata.inputChannels) input channels" : nil,
                               metadata.mean != first.mean || metadata.std != first.std ? "mean \(metadata.mean) and std \(metadata.std)" : nil]
                .compactMap { $0 }
            guard differences.isEmpty else {
                throw ModelFileError(.invalidMetadata, path: path, "cannot join an ensemble with \(paths[0]): it has \(differences.joined(separator: ", "))")
            }
        }
        model = models[0]
        network = model.makeNetwork()
        preprocessor = Preprocessor(metadata: model.metadata)
        self.flipAveraging = flipAveraging
        members = [(network, flipAveraging ? first.flipTemperature : first.temperature)]
            + models.dropFirst().map { ($0.makeNetwork(), flipAveraging ? $0.metadata.flipTemperature : $0.metadata.temperature) }
    }

    /// Loads the model file at `path` (see `ModelLoader.load`).
    public convenience init(path: String, overrides: ModelOverrides = .init(), flipAveraging: Bool = false) throws(ModelFileError) {
        self.init(model: try ModelLoader.load(path: path, overrides: overrides), flipAveraging: flipAveraging)
    }

    /// Models in the ensemble (1 for a single model).
    public var modelCount: Int { members.count }

    public var classNames: [String] { model.metadata.classNames }

    /// The temperature this classifier's probabilities use: the model's, or 1 for an ensemble (whose
    /// logits are the log of its members' mean calibrated probabilities).
    public var temperature: Float { members.count == 1 ? members[0].temperature : 1 }

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
    /// each input's and its mirror image's, before any temperature. An ensemble's are the log of its
    /// members' mean calibrated probabilities.
    public func logits(for inputs: Tensor) -> [Float] {
        guard members.count > 1 else { return logits(of: network, for: inputs) }
        let classes = classNames.count
        var mean = [Float](repeating: 0, count: inputs.shape[0] * classes)
        for member in members {
            let probabilities = softmaxRows(logits(of: member.network, for: inputs).map { $0 / member.temperature }, columns: classes)
            for i in mean.indices { mean[i] += probabilities[i] / Float(members.count) }
        }
        return mean.map { Foundation.log(max($0, .leastNormalMagnitude)) }
    }

    private func logits(of network: any EmotionNetwork, for inputs: Tensor) -> [Float] {
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
