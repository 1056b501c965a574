import ArgumentParser
import FERVision
import Foundation

/// Which model to use, and what to override in its metadata.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Model file: safetensors (ours, or a plain PyTorch state dict) or a PyTorch .pth checkpoint.",
        discussion: "Default: $\(DefaultModel.environmentVariable), else models/\(DefaultModel.fileName).",
        valueName: "path"))
    var model: String?

    @OptionGroup var metadata: MetadataOverrideOptions

    /// The model path given or installed; nil when neither exists.
    var resolvedPath: String? { model ?? DefaultModel.locate() }

    /// Loads and validates the model, printing what loading assumed or adapted.
    func load() throws -> LoadedModel {
        guard let path = resolvedPath else { throw CommandFailure(Self.noModelMessage) }
        let loaded = try ModelLoader.load(path: path, overrides: try metadata.overrides())
        loaded.notes.forEach { Terminal.note("\(path): \($0)") }
        return loaded
    }

    static let noModelMessage = """
        no model installed (looked for $\(DefaultModel.environmentVariable) and models/\(DefaultModel.fileName) \
        in the current directory and beside the executable); pass --model PATH, or import one with `fer-live import`
        """
}

/// The model, or an ensemble of models, for the commands that classify (classify, evaluate, replay, camera).
struct ClassifierOptions: ParsableArguments {
    @OptionGroup var model: ModelOptions

    @Option(help: ArgumentHelp(
        "Average the calibrated probabilities of every model file (.safetensors, .pth, .pt) in this directory.",
        discussion: "For offline analysis: each face costs one pass per model. The models must share class names and preprocessing.",
        valueName: "dir"))
    var ensemble: String?

    @OptionGroup var precision: PrecisionOptions

    func validate() throws {
        if model.model != nil, ensemble != nil { throw ValidationError("--model and --ensemble: give one (an ensemble's models are the files in its directory)") }
        if ensemble != nil, precision.precision == .int8 { throw ValidationError("--ensemble runs in float only (--precision float or auto)") }
    }

    /// The classifier these options ask for: the model's, or the ensemble's. `live`: for a stream, where the
    /// network shares the cores with the face search (an 8-bit network then runs each pass on one thread).
    func classifier(flipAveraging: Bool, live: Bool = false) throws -> EmotionClassifier {
        guard let ensemble else {
            let loaded = try model.load()
            return EmotionClassifier(model: loaded, network: try precision.network(for: loaded, at: model.resolvedPath, live: live),
                                     flipAveraging: flipAveraging)
        }
        let paths = try Self.modelFiles(in: ensemble)
        let models = try paths.map { path in
            let loaded = try ModelLoader.load(path: path, overrides: try model.metadata.overrides())
            loaded.notes.forEach { Terminal.note("\(path): \($0)") }
            return loaded
        }
        Terminal.note("\(ensemble): an ensemble of \(paths.count) models (\(paths.count) network passes per face)")
        return try EmotionClassifier(ensemble: models, paths: paths, flipAveraging: flipAveraging)
    }

    /// The model files in `directory`, by name.
    static func modelFiles(in directory: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("\(directory): no such directory (--ensemble takes a directory of model files)")
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { !$0.hasPrefix(".") && ["safetensors", "pth", "pt"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        guard !names.isEmpty else { throw CommandFailure("\(directory): holds no model files (.safetensors, .pth, .pt)") }
        return names.map { (directory as NSString).appendingPathComponent($0) }
    }
}

/// How the network computes: in float, or with 8-bit convolutions.
struct PrecisionOptions: ParsableArguments {
    enum Precision: String, ExpressibleByArgument, CaseIterable {
        case auto, float, int8
    }

    @Option(help: ArgumentHelp(
        "int8: the network's convolutions in 8-bit integers (oneDNN), about twice as fast; float: all in 32-bit floats; auto: int8 when the model has its ranges, else float.",
        discussion: "int8 needs the model's ranges, NAME.int8.json beside it (made by `fer-live quantize`; the shipped model has them). BENCHMARKS.md gives the accuracy and speed of each.",
        valueName: "precision"))
    var precision: Precision = .auto

    /// The network to run `model` (read from `path`) with: nil for float.
    func network(for model: LoadedModel, at path: String?, live: Bool = false) throws -> (any EmotionNetwork)? {
        guard precision != .float, let path else {
            if precision == .int8 { throw CommandFailure(ModelOptions.noModelMessage) }
            return nil
        }
        let sidecar = Int8Calibration.sidecarPath(forModel: path)
        if precision == .auto, !FileManager.default.fileExists(atPath: sidecar) { return nil }
        do {
            let calibration = try Int8Calibration.load(path: sidecar, modelPath: path, modelDigest: try SHA256.hex(ofFile: path),
                                                       blocks: model.architecture.blocks.count)
            return try QuantizedResNet9(stateDict: model.stateDict, architecture: model.architecture, inputSize: model.metadata.inputSize,
                                        calibration: calibration, threadLimit: live ? 1 : nil)
        } catch where precision == .auto {
            // Asked for nothing in particular: the float network does the same job, a little slower.
            Terminal.note("\(error); running in float")
            return nil
        }
    }
}

/// Flags that replace a model file's class names and normalization (or the FER2013 defaults for files
/// without metadata).
struct MetadataOverrideOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Class names in output order, comma-separated. Extra model outputs are dropped.",
                               valueName: "names"))
    var classes: String?

    @Option(help: ArgumentHelp("Input mean on the [0,1] scale: one value, or one per input channel, comma-separated.",
                               valueName: "values"))
    var mean: String?

    @Option(help: ArgumentHelp("Input standard deviation: one value, or one per input channel, comma-separated.",
                               valueName: "values"))
    var std: String?

    func overrides() throws -> ModelOverrides {
        ModelOverrides(classNames: try classes.map { try Self.names($0) },
                       mean: try mean.map { try Self.numbers($0, flag: "--mean") },
                       std: try std.map { try Self.numbers($0, flag: "--std") })
    }

    private static func names(_ text: String) throws -> [String] {
        let names = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard names.allSatisfy({ !$0.isEmpty }) else { throw ValidationError("--classes: empty class name in '\(text)'") }
        return names
    }

    private static func numbers(_ text: String, flag: String) throws -> [Float] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap(Float.init)
        guard !parts.isEmpty, values.count == parts.count, values.allSatisfy(\.isFinite) else {
            throw ValidationError("\(flag): '\(text)' is not a comma-separated list of numbers")
        }
        return values
    }
}
