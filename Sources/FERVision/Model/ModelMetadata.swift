import Foundation

/// What inference needs besides the weights: class names, input geometry, normalization, and where the
/// model came from. Stored as strings in the safetensors `__metadata__` block.
public struct ModelMetadata: Equatable, Sendable {
    /// One name per model output, in output order.
    public var classNames: [String]
    /// Side of the square input in pixels.
    public var inputSize: Int
    /// Input channels; grayscale is replicated to each (the reference notebook used 3).
    public var inputChannels: Int
    /// Per-channel mean and standard deviation on the [0, 1] scale: one value, or one per channel.
    public var mean: [Float]
    public var std: [Float]
    /// How the classifier pools its last feature map (the weights cannot say; the reference's by default).
    public var classifierPooling: ResNet9Architecture.ClassifierPooling
    /// Temperature scaling of the logits, fitted on validation data (`Calibration`): probabilities are
    /// softmax(logits / temperature). 1 leaves them as the network made them.
    public var temperature: Float
    /// The same for logits averaged over the image and its mirror image (test-time flip averaging).
    public var flipTemperature: Float
    /// Free-form provenance: source, data, recipe, accuracy, ...
    public var provenance: [String: String]

    /// FER2013's labels 0...6, in folder order.
    public static let fer2013ClassNames = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    /// Pixel statistics of the FER2013 training split (RECIPE.md).
    public static let fer2013Mean: Float = 0.5077
    public static let fer2013Std: Float = 0.2551

    public init(classNames: [String], inputSize: Int = 48, inputChannels: Int = 1,
                mean: [Float] = [ModelMetadata.fer2013Mean], std: [Float] = [ModelMetadata.fer2013Std],
                classifierPooling: ResNet9Architecture.ClassifierPooling = .topLeft4, temperature: Float = 1, flipTemperature: Float = 1,
                provenance: [String: String] = [:]) {
        self.classNames = classNames
        self.classifierPooling = classifierPooling
        self.temperature = temperature
        self.flipTemperature = flipTemperature
        self.inputSize = inputSize
        self.inputChannels = inputChannels
        self.mean = mean
        self.std = std
        self.provenance = provenance
    }

    // MARK: safetensors encoding

    enum Key {
        static let format = "format", classes = "classes", inputSize = "input_size", inputChannels = "input_channels"
        static let mean = "mean", std = "std", classifierPooling = "classifier_pooling"
        static let temperature = "temperature", flipTemperature = "temperature_flip"
        static let all: Set<String> = [format, classes, inputSize, inputChannels, mean, std, classifierPooling, temperature, flipTemperature]
    }
    /// Written in every file we produce, so a reader knows the conventions below.
    static let formatTag = "fer-live/1"

    /// The metadata as safetensors `__metadata__` strings (lists as JSON arrays).
    public var safeTensorsEntries: [String: String] {
        var entries = provenance
        entries[Key.format] = Self.formatTag
        entries[Key.classes] = "[" + classNames.map(jsonString).joined(separator: ",") + "]"
        entries[Key.inputSize] = String(inputSize)
        entries[Key.inputChannels] = String(inputChannels)
        entries[Key.mean] = "[" + mean.map { "\($0)" }.joined(separator: ",") + "]"
        entries[Key.std] = "[" + std.map { "\($0)" }.joined(separator: ",") + "]"
        entries[Key.classifierPooling] = classifierPooling.rawValue
        entries[Key.temperature] = "\(temperature)"
        entries[Key.flipTemperature] = "\(flipTemperature)"
        return entries
    }

    /// Reads what a file's `__metadata__` says, over `defaults`: missing keys keep the default value,
    /// unknown keys become provenance, and malformed values are errors naming the key.
    public init(safeTensorsEntries entries: [String: String], defaults: ModelMetadata, path: String) throws(ModelFileError) {
        self = defaults
        func invalid(_ key: String, _ why: String) -> ModelFileError {
            ModelFileError(.invalidMetadata, path: path, key: key, why)
        }
        func json(_ key: String) throws(ModelFileError) -> Any? {
            guard let text = entries[key] else { return nil }
            guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
                throw invalid(key, "'\(text)' is not valid JSON")
            }
            return value
        }
        if let value = try json(Key.classes) {
            guard let names = value as? [String], !names.isEmpty, names.allSatisfy({ !$0.isEmpty }) else {
                throw invalid(Key.classes, "must be a JSON array of non-empty strings")
            }
            classNames = names
        }
        for (key, keyPath) in [(Key.inputSize, \ModelMetadata.inputSize), (Key.inputChannels, \ModelMetadata.inputChannels)] {
            if let text = entries[key] {
                guard let number = Int(text), number > 0 else { throw invalid(key, "'\(text)' is not a positive integer") }
                self[keyPath: keyPath] = number
            }
        }
        for (key, keyPath) in [(Key.mean, \ModelMetadata.mean), (Key.std, \ModelMetadata.std)] {
            if let value = try json(key) {
                let numbers = (value as? [Double]) ?? (value as? Double).map { [$0] }
                guard let numbers, !numbers.isEmpty, numbers.allSatisfy(\.isFinite) else {
                    throw invalid(key, "must be a number or a JSON array of numbers")
                }
                self[keyPath: keyPath] = numbers.map(Float.init)
            }
        }
        guard std.allSatisfy({ $0 > 0 }) else { throw invalid(Key.std, "must be positive") }
        if let text = entries[Key.classifierPooling] {
            guard let pooling = ResNet9Architecture.ClassifierPooling(rawValue: text) else {
                let known = ResNet9Architecture.ClassifierPooling.allCases.map(\.rawValue).joined(separator: ", ")
                throw invalid(Key.classifierPooling, "'\(text)' is not one of \(known)")
            }
            classifierPooling = pooling
        }
        for (key, keyPath) in [(Key.temperature, \ModelMetadata.temperature), (Key.flipTemperature, \ModelMetadata.flipTemperature)] {
            if let text = entries[key] {
                guard let value = Float(text), value.isFinite, value > 0 else { throw invalid(key, "'\(text)' is not a positive number") }
                self[keyPath: keyPath] = value
            }
        }
        if entries[Key.flipTemperature] == nil { flipTemperature = temperature }
        for (key, value) in entries where !Key.all.contains(key) { provenance[key] = value }
    }
}
