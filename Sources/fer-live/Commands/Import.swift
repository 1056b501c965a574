import ArgumentParser
import FERVision
import Foundation

/// `fer-live import`: turn a PyTorch checkpoint (or plain safetensors) into a fer-live model file.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert a PyTorch ResNet9 state dict (.pth or safetensors) into a fer-live model.",
        discussion: """
            Reads torch.save(model.state_dict(), "x.pth") checkpoints natively (no Python needed) and \
            safetensors files, validates every tensor, and writes safetensors with the metadata fer-live \
            needs: class names, input size and channels, normalization, provenance.
            A model with more outputs than class names keeps the first ones: the reference notebook's \
            ResNet9(3, 10) becomes a 7-class FER2013 model. That notebook normalized with CIFAR-10 statistics; \
            for its checkpoints pass --mean 0.4914,0.4822,0.4465 --std 0.2023,0.1994,0.2010.

            Example: fer-live import project.pth --out models/notebook.safetensors
            """)

    @Argument(help: ArgumentHelp("The checkpoint to read.", valueName: "source"))
    var source: String

    @Option(help: ArgumentHelp("Where to write the safetensors model.", valueName: "path"))
    var out: String

    @OptionGroup var metadata: MetadataOverrideOptions

    @Flag(help: "Replace the output file if it exists.")
    var force = false

    func run() throws {
        try reportingFailures {
            if FileManager.default.fileExists(atPath: out), !force {
                throw CommandFailure("\(out): already exists (use --force to replace it)")
            }
            let loaded = try ModelLoader.load(path: source, overrides: try metadata.overrides())
            loaded.notes.forEach { Terminal.note("\(source): \($0)") }
            if loaded.architecture.inputChannels == 3, metadata.mean == nil, loaded.notes.contains(where: { $0.hasPrefix("no metadata") }) {
                Terminal.note("3 input channels and no normalization given: if this is the reference notebook's model, it was trained with CIFAR-10 statistics (--mean 0.4914,0.4822,0.4465 --std 0.2023,0.1994,0.2010)")
            }
            var model = loaded.metadata
            model.provenance["source_file"] = URL(fileURLWithPath: source).lastPathComponent
            model.provenance["converted_by"] = "fer-live import"
            let imported = LoadedModel(stateDict: loaded.stateDict, architecture: loaded.architecture, metadata: model, notes: [])
            try ModelLoader.save(imported, to: out)
            let a = loaded.architecture
            print("""
                wrote \(out): ResNet9(\(a.inputChannels), \(a.classCount)), widths \(a.widths.map(String.init).joined(separator: "/")), \
                \(a.parameterCount) parameters; classes \(model.classNames.joined(separator: ", ")); \
                input \(model.inputSize)x\(model.inputSize), mean \(model.mean), std \(model.std)
                """)
        }
    }
}
