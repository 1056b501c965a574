import ArgumentParser
import FERVision

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
