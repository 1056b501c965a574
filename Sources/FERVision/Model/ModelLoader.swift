import Foundation

/// A model read from disk and checked: weights matching a ResNet9, and the metadata inference needs.
public struct LoadedModel: Sendable {
    /// The weights, trimmed to `metadata.classNames.count` outputs.
    public let stateDict: StateDict
    public let architecture: ResNet9Architecture
    public let metadata: ModelMetadata
    /// What loading adapted or assumed (defaults used, outputs dropped), to tell the user.
    public let notes: [String]

    /// - Precondition: `stateDict` matches `architecture` (as `ModelLoader.validate` checks), and the
    ///   metadata names the architecture's classifier pooling.
    public init(stateDict: StateDict, architecture: ResNet9Architecture, metadata: ModelMetadata, notes: [String] = []) {
        precondition(architecture.classifierPooling == metadata.classifierPooling, "metadata and architecture disagree on the pooling")
        self.stateDict = stateDict
        self.architecture = architecture
        self.metadata = metadata
        self.notes = notes
    }

    /// The same model with one more provenance entry.
    public func withProvenance(_ key: String, _ value: String) -> LoadedModel {
        var metadata = self.metadata
        metadata.provenance[key] = value
        return LoadedModel(stateDict: stateDict, architecture: architecture, metadata: metadata, notes: notes)
    }

    /// The inference network for these weights.
    public func makeNetwork() -> ResNet9 {
        ResNet9(stateDict: stateDict, architecture: architecture, inputSize: metadata.inputSize)
    }
}

/// Values a user gives on the command line that replace what the file says (or the defaults).
public struct ModelOverrides: Sendable, Equatable {
    public var classNames: [String]?
    public var mean: [Float]?
    public var std: [Float]?

    public init(classNames: [String]? = nil, mean: [Float]? = nil, std: [Float]? = nil) {
        self.classNames = classNames
        self.mean = mean
        self.std = std
    }
}

/// Reads model files (safetensors, ours or plain; PyTorch zip checkpoints) and validates them completely
/// before any inference code sees them: every key, shape, dtype, offset and value.
public enum ModelLoader {
    /// Loads and validates the model at `path`.
    ///
    /// Without metadata, FER2013's defaults apply (7 class names, 48x48, mean 0.5077, std 0.2551).
    /// A model with more outputs than class names keeps the first outputs (the reference notebook's
    /// `ResNet9(3, 10)` has 10 outputs for FER2013's 7 classes); a note says so.
    public static func load(path: String, overrides: ModelOverrides = .init()) throws(ModelFileError) -> LoadedModel {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file"
            throw ModelFileError(.unreadable, path: path, reason)
        }
        var notes: [String] = []
        let stateDict: StateDict, stored: [String: String]?
        if PyTorchCheckpoint.looksLikeCheckpoint(data) {
            let checkpoint = try PyTorchCheckpoint.read(path: path)
            (stateDict, stored) = (checkpoint.0, nil)
            notes += checkpoint.notes
        } else {
            (stateDict, stored) = try SafeTensors.decode(data, path: path)
        }
        var architecture = try validate(stateDict, path: path)

        let defaults = ModelMetadata(classNames: ModelMetadata.fer2013ClassNames, inputChannels: architecture.inputChannels)
        var metadata = defaults
        if let stored {
            metadata = try ModelMetadata(safeTensorsEntries: stored, defaults: defaults, path: path)
        } else {
            notes.append("no metadata in the file: assuming FER2013 classes, 48x48 input, mean \(ModelMetadata.fer2013Mean), std \(ModelMetadata.fer2013Std)")
        }
        if let names = overrides.classNames { metadata.classNames = names }
        if let mean = overrides.mean { metadata.mean = mean }
        if let std = overrides.std { metadata.std = std }
        try check(metadata, against: architecture, path: path)
        architecture.classifierPooling = metadata.classifierPooling

        // PyTorch's state_dict order, whatever order the file had (the safetensors package sorts by dtype).
        var trimmed = StateDict(architecture.parameterLayout.compactMap { stateDict[$0.name] })
        var kept = architecture
        let classes = metadata.classNames.count
        if classes < architecture.classCount {
            notes.append("the model has \(architecture.classCount) outputs for \(classes) classes: using outputs 0-\(classes - 1), dropping \(classes)-\(architecture.classCount - 1)")
            kept = ResNet9Architecture(inputChannels: architecture.inputChannels, classCount: classes, widths: architecture.widths,
                                       classifierPooling: architecture.classifierPooling)
            let prefix = ResNet9Architecture.classifierPrefix, features = architecture.widths[3]
            let weight = stateDict.tensor("\(prefix).weight")!, bias = stateDict.tensor("\(prefix).bias")!
            trimmed["\(prefix).weight"]!.tensor = Tensor(shape: [classes, features], scalars: Array(weight.scalars.prefix(classes * features)))
            trimmed["\(prefix).bias"]!.tensor = Tensor(shape: [classes], scalars: Array(bias.scalars.prefix(classes)))
        }
        return LoadedModel(stateDict: trimmed, architecture: kept, metadata: metadata, notes: notes)
    }

    /// Checks a state dict against the ResNet9 its shapes imply: no key missing or extra, every shape
    /// and element type right, every value finite. Returns that architecture.
    public static func validate(_ stateDict: StateDict, path: String) throws(ModelFileError) -> ResNet9Architecture {
        let shapes = Dictionary(uniqueKeysWithValues: stateDict.entries.map { ($0.name, $0.tensor.shape) })
        let architecture: ResNet9Architecture
        do { architecture = try ResNet9Architecture(inferringFrom: shapes) } catch {
            switch error {
            case .missing(let key):
                throw ModelFileError(.missingKey, path: path, key: key, "missing: not a ResNet9 state dict")
            case .badShape(let key, let shape):
                throw ModelFileError(.wrongShape, path: path, key: key, "has shape \(shape), which no ResNet9 layer has")
            }
        }
        let layout = architecture.parameterLayout
        for expected in layout {
            // PyTorch only writes num_batches_tracked since 0.4.1; older or hand-made files may lack it.
            guard let entry = stateDict[expected.name] else {
                if expected.isInteger { continue }
                throw ModelFileError(.missingKey, path: path, key: expected.name, "missing")
            }
            guard entry.tensor.shape == expected.shape else {
                throw ModelFileError(.wrongShape, path: path, key: expected.name,
                                     "shape \(entry.tensor.shape), expected \(expected.shape)")
            }
            guard entry.isInteger == expected.isInteger else {
                throw ModelFileError(.unsupportedDType, path: path, key: expected.name,
                                     expected.isInteger ? "must be an integer counter" : "must be floating point, found integers")
            }
            if let bad = entry.tensor.scalars.firstIndex(where: { !$0.isFinite }) {
                throw ModelFileError(.nonFinite, path: path, key: expected.name,
                                     "element \(bad) is \(entry.tensor.scalars[bad]) (weights must be finite)")
            }
            if expected.name.hasSuffix("running_var"), let bad = entry.tensor.scalars.firstIndex(where: { $0 < 0 }) {
                throw ModelFileError(.nonFinite, path: path, key: expected.name, "element \(bad) is negative (a variance)")
            }
        }
        let known = Set(layout.map(\.name))
        if let extra = stateDict.names.first(where: { !known.contains($0) }) {
            throw ModelFileError(.unexpectedKey, path: path, key: extra, "unexpected key: not part of a ResNet9")
        }
        return architecture
    }

    private static func check(_ metadata: ModelMetadata, against architecture: ResNet9Architecture, path: String) throws(ModelFileError) {
        func invalid(_ key: String, _ detail: String) -> ModelFileError {
            ModelFileError(.invalidMetadata, path: path, key: key, detail)
        }
        let channels = architecture.inputChannels
        guard metadata.inputChannels == channels else {
            throw invalid(ModelMetadata.Key.inputChannels, "says \(metadata.inputChannels) but the weights take \(channels)")
        }
        guard ResNet9Architecture.acceptedInputSizes.contains(metadata.inputSize) else {
            throw invalid(ModelMetadata.Key.inputSize, "\(metadata.inputSize) leaves no 1x1 map for the classifier (accepted: \(ResNet9Architecture.acceptedInputSizes))")
        }
        guard !metadata.classNames.isEmpty, metadata.classNames.count <= architecture.classCount else {
            throw invalid(ModelMetadata.Key.classes, "\(metadata.classNames.count) class names for \(architecture.classCount) outputs")
        }
        guard Set(metadata.classNames).count == metadata.classNames.count else {
            throw invalid(ModelMetadata.Key.classes, "class names repeat")
        }
        for (key, values) in [(ModelMetadata.Key.mean, metadata.mean), (ModelMetadata.Key.std, metadata.std)] {
            guard values.count == 1 || values.count == channels else {
                throw invalid(key, "\(values.count) values for \(channels) input channels (give 1 or \(channels))")
            }
            guard values.allSatisfy(\.isFinite) else { throw invalid(key, "values must be finite") }
        }
        guard metadata.std.allSatisfy({ $0 > 0 }) else { throw invalid(ModelMetadata.Key.std, "values must be positive") }
    }

    /// Writes a model as safetensors with our metadata, atomically (a temporary file renamed into place),
    /// so an interrupted write never leaves a damaged model behind.
    public static func save(_ model: LoadedModel, to path: String) throws(ModelFileError) {
        let data = SafeTensors.encode(model.stateDict, metadata: model.metadata.safeTensorsEntries)
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ModelFileError(.notWritable, path: path, "cannot write (\((error as NSError).localizedDescription))")
        }
    }
}
