import ArgumentParser
import FERVision
import Foundation

/// `fer-live train`: the reference recipe on an ImageFolder dataset.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a ResNet9 with the reference recipe on an ImageFolder dataset.",
        discussion: """
            DIR holds train/ and val/ (and test/, which training never reads), each with one folder per \
            class. Folders named 0-6 get FER2013's emotion names. Defaults are the recipe: Adam with \
            L2 weight decay, one-cycle learning rate (beta1 cycled 0.85-0.95), gradient clipping by value, \
            random flips and rotations, normalization by the training split's pixel statistics.

            Each epoch prints the reference's line (epoch, last lr, train loss, val loss, val acc), then \
            writes the model to --out, a checkpoint and history.json/history.csv and three SVG plots to \
            --log-dir. --resume continues a run exactly where its last completed epoch left it.

            Example: fer-live train --data ../shared/data/fer2013 --out models/resnet9-fer2013.safetensors
            """)

    @Option(help: ArgumentHelp("Dataset folder with train/ and val/.", valueName: "dir"))
    var data: String

    @Option(help: ArgumentHelp("Where to write the trained model (safetensors).", valueName: "path"))
    var out: String

    @Option(help: ArgumentHelp("Folder for checkpoint, history and plots (default: beside --out, <name>-training).", valueName: "dir"))
    var logDir: String?

    @Option(help: "Epochs (the whole one-cycle schedule spans them).")
    var epochs = 4

    @Option(help: "Images per batch.")
    var batchSize = 64

    @Option(help: "Peak learning rate of the one-cycle schedule.")
    var maxLR = 0.005

    @Option(help: "Adam's L2 weight decay (added to the gradient, as PyTorch's Adam does).")
    var weightDecay = 9e-6

    @Option(help: "Clamp every gradient element to +-this before each step (0 turns clipping off).")
    var gradClip = 0.1

    @Option(help: "Seed for initialization, shuffling and augmentation.")
    var seed: UInt64 = 0

    @Option(help: "Threads.")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    @Flag(inversion: .prefixedNo, help: "Random horizontal flips.")
    var flip = true

    @Flag(inversion: .prefixedNo, help: "Random rotations within +-10 degrees.")
    var rotation = true

    @Flag(help: "Pad by 4 pixels and crop back at a random offset (a random shift of up to 4 pixels).")
    var padCrop = false

    @Option(help: ArgumentHelp("Random erasing: the probability of blanking a random rectangle (2-33% of the image) to the mean pixel.", valueName: "p"))
    var erasing = 0.0

    @Option(help: ArgumentHelp("Random zoom in or out by up to this fraction (0.15: scale 0.85-1.15), so the model does not depend on one face scale (0: off).", valueName: "j"))
    var scaleJitter = 0.0

    @Option(help: ArgumentHelp("Label smoothing: train towards (1 - e) on the label and e spread over all classes.", valueName: "e"))
    var labelSmoothing = 0.0

    @Option(help: ArgumentHelp("Mixup: blend each batch with a shuffled copy of itself, weights ~ Beta(alpha, alpha) (0: off).", valueName: "alpha"))
    var mixup = 0.0

    @Option(help: ArgumentHelp("Dropout probability on the classifier's 512 input features (adds no parameters).", valueName: "p"))
    var dropout = 0.0

    @Option(help: ArgumentHelp("Photometric jitter: random blur, contrast, brightness, gamma, sensor noise and JPEG re-encoding, the ways a webcam's or a video's face differs from FER2013's; the strength scales every range (0: off, 1: widest).", valueName: "s"))
    var photometric = 0.0

    @Option(help: ArgumentHelp("Class balance: weight each image's loss by (mean class count / its class's count)^power, so the small classes (disgust, fear, angry) count more (0: off, 1: every class weighs the same).", valueName: "power"))
    var classBalance = 0.0

    @Option(name: .customLong("teacher"), help: ArgumentHelp(
        "Knowledge distillation: learn also from this trained model's calibrated probabilities on each augmented image (repeat for an ensemble: their mean).",
        valueName: "model"))
    var teachers: [String] = []

    @Option(help: ArgumentHelp("Distillation weight: targets are (1 - d) the labels and d the teachers' probabilities (default with --teacher: 0.5).",
                               valueName: "d"))
    var distillation: Double?

    @Option(help: ArgumentHelp("Classifier pooling: maxpool4 (the reference's MaxPool2d(4), reading the top-left 4x4 of the 6x6 map) or global_max (the whole map). Stored in the model.", valueName: "kind"))
    var classifierPooling = ResNet9Architecture.ClassifierPooling.topLeft4

    @Option(help: ArgumentHelp("Train on a random subset of this many training images (for quick pilot runs; 0: all).", valueName: "n"))
    var subset = 0

    @Option(help: ArgumentHelp("Start from this model's weights with a fresh optimizer and one-cycle schedule (a warm restart), not from random weights.", valueName: "model"))
    var initFrom: String?

    @Option(help: ArgumentHelp("Continue from this checkpoint (its settings are used).", valueName: "checkpoint"))
    var resume: String?

    @Option(help: ArgumentHelp("Channels of the four stages (default 64,128,256,512, the recipe's): a narrower network is faster on a small CPU and less accurate.",
                               valueName: "a,b,c,d"))
    var widths: String?

    func validate() throws {
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1...256") }
        guard gradClip >= 0, gradClip.isFinite else { throw ValidationError("--grad-clip must be finite and not negative (0 turns clipping off)") }
        if let problem = try trainingConfiguration.problem { throw ValidationError(problem) }
        if resume != nil && initFrom != nil { throw ValidationError("--resume continues a run and --init-from starts one: give one of them") }
    }

    var trainingConfiguration: TrainingConfiguration {
        get throws {
            var configuration = TrainingConfiguration()
            configuration.epochs = epochs
            configuration.batchSize = batchSize
            configuration.maxLearningRate = maxLR
            configuration.weightDecay = weightDecay
            configuration.gradientClip = gradClip > 0 ? gradClip : .greatestFiniteMagnitude
            configuration.seed = seed
            configuration.flip = flip
            configuration.rotation = rotation
            configuration.padCrop = padCrop
            configuration.erasing = erasing
            configuration.scaleJitter = scaleJitter
            configuration.labelSmoothing = labelSmoothing
            configuration.mixup = mixup
            configuration.dropout = dropout
            configuration.photometric = photometric
            configuration.classBalance = classBalance
            configuration.teachers = teachers.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            configuration.distillation = distillation ?? (teachers.isEmpty ? 0 : 0.5)
            configuration.classifierPooling = classifierPooling
            configuration.subset = subset
            if let widths {
                let values = widths.split(separator: ",").compactMap { Int($0) }
                guard values.count == 4 else { throw ValidationError("--widths takes 4 integers") }
                configuration.widths = values
            }
            return configuration
        }
    }

    func run() throws {
        try reportingFailures {
            BLAS.setThreadCount(threads)
            let logFolder = logDir ?? (URL(fileURLWithPath: out).deletingPathExtension().path + "-training")
            try ensureWritable(out: out, logFolder: logFolder)

            let trainingSet = try load(split: "train")
            let validationSet = try load(split: "val")
            guard trainingSet.folderNames == validationSet.folderNames else {
                throw CommandFailure("\(data): train/ has classes \(trainingSet.folderNames) but val/ has \(validationSet.folderNames)")
            }

            let trainer: Trainer
            // Where a warm restart's weights came from, kept in the model it makes.
            var startedFrom: String?
            let requested = try trainingConfiguration
            if let resume {
                trainer = try Trainer(resumingFrom: resume, trainingSet: trainingSet)
                if trainer.configuration != requested && requested != Self.defaults(widths: trainer.configuration.widths) {
                    throw CommandFailure("\(resume): was trained with other settings (\(trainer.configuration)); resume without training flags, or start a new run")
                }
                Terminal.note("resuming \(resume) after epoch \(trainer.completedEpochs) of \(trainer.configuration.epochs)")
            } else if let initFrom {
                let start = try ModelLoader.load(path: initFrom)
                var configuration = requested
                configuration.widths = start.architecture.widths
                guard start.architecture.inputChannels == 1, start.metadata.classNames == trainingSet.classNames else {
                    throw CommandFailure("\(initFrom): has classes \(start.metadata.classNames) and \(start.architecture.inputChannels) input channel(s); training needs \(trainingSet.classNames) and 1")
                }
                trainer = Trainer(configuration: configuration, trainingSet: trainingSet, initialWeights: start.stateDict)
                startedFrom = ([URL(fileURLWithPath: initFrom).lastPathComponent]
                    + ["epochs", "settings"].compactMap { key in start.metadata.provenance[key].map { "\(key) \($0)" } }).joined(separator: "; ")
                Terminal.note("warm restart from \(initFrom): its weights, a fresh optimizer and one-cycle schedule")
            } else {
                trainer = Trainer(configuration: requested, trainingSet: trainingSet)
            }
            let configuration = trainer.configuration
            trainer.teachers = try configuration.teachers.map { try loadTeacher($0, for: trainer) }
            print("training ResNet9(1, \(trainer.classNames.count)) on \(trainer.trainingIndices.count) images (val \(validationSet.count)); classes \(trainer.classNames.joined(separator: ", ")); mean \(trainer.mean), std \(trainer.std)")
            print("recipe: \(describe(configuration)), \(threads) threads")
            for record in trainer.history.epochs { print(record.logLine) }

            let checkpoint = logFolder + "/checkpoint.safetensors"
            while trainer.completedEpochs < configuration.epochs {
                let bar = ProgressBar(label: "epoch \(trainer.completedEpochs + 1)/\(configuration.epochs)")
                let record = trainer.runEpoch(trainingSet: trainingSet, validationSet: validationSet) { done, total, rate, loss in
                    bar.update(fraction: Double(done) / Double(max(1, total)), remaining: rate > 0 ? Double(total - done) / rate : nil,
                               detail: String(format: "%d/%d images  %.1f images/s  loss %.4f", done, total, rate, loss))
                }
                bar.finish()
                print(record.logLine + String(format: "   (%.0f s, %.1f images/s)", record.seconds, record.imagesPerSecond))
                fflush(nil)   // every stream: the epoch line reaches a pipe or a log file now
                try trainer.saveCheckpoint(to: checkpoint)
                try write(trainer.history, to: logFolder)
                let provenance = [
                    "trained_by": "fer-live train", "recipe": "ResNet9 reference recipe (RECIPE.md)",
                    "data": URL(fileURLWithPath: data).lastPathComponent,
                    "epochs": "\(trainer.completedEpochs) of \(configuration.epochs)",
                    "val_accuracy": String(format: "%.4f", record.validationAccuracy),
                    "settings": describe(configuration),
                ]
                var model = trainer.model(provenance: provenance)
                if let startedFrom { model = model.withProvenance("started_from", startedFrom) }
                if trainer.completedEpochs == configuration.epochs {
                    // The finished model's confidences are calibrated on val, as `fer-live calibrate` does.
                    let (calibrated, fits) = model.calibrated(on: validationSet, labels: validationSet.labels)
                    for fit in fits { print(Calibrate.describe(fit, images: validationSet.count)) }
                    model = calibrated.withProvenance("calibrated_on", "val")
                }
                try ModelLoader.save(model, to: out)
            }
            print("done: \(configuration.epochs) epochs; model \(out); checkpoint, history and plots in \(logFolder)")
        }
    }

    private static func defaults(widths: [Int]) -> TrainingConfiguration {
        var configuration = TrainingConfiguration()
        configuration.widths = widths
        return configuration
    }

    /// The run's settings in one line, for the log and the model's provenance.
    private func describe(_ c: TrainingConfiguration) -> String {
        let augmentation = [c.padCrop ? "pad-crop" : nil, c.flip ? "flip" : nil, c.rotation ? "rotation" : nil,
                            c.erasing > 0 ? "erasing \(c.erasing)" : nil, c.scaleJitter > 0 ? "scale jitter \(c.scaleJitter)" : nil,
                            c.photometric > 0 ? "photometric \(c.photometric)" : nil].compactMap { $0 }
        var parts = ["\(c.epochs) epochs", "batch \(c.batchSize)", "max lr \(c.maxLearningRate)", "weight decay \(c.weightDecay)",
                     "clip \(c.gradientClip)", "augmentation \(augmentation.isEmpty ? "none" : augmentation.joined(separator: "+"))"]
        if c.labelSmoothing > 0 { parts.append("label smoothing \(c.labelSmoothing)") }
        if c.mixup > 0 { parts.append("mixup \(c.mixup)") }
        if c.dropout > 0 { parts.append("dropout \(c.dropout)") }
        if c.classBalance > 0 { parts.append("class balance \(c.classBalance)") }
        if c.distillation > 0 {
            parts.append("distillation \(c.distillation) from \(c.teachers.map { URL(fileURLWithPath: $0).lastPathComponent }.joined(separator: " + "))")
        }
        parts.append("pooling \(c.classifierPooling.rawValue)")
        if c.subset > 0 { parts.append("subset \(c.subset)") }
        parts.append("seed \(c.seed)")
        return parts.joined(separator: ", ")
    }

    /// A teacher for distillation: a model of the run's classes, input size and one channel.
    private func loadTeacher(_ path: String, for trainer: Trainer) throws -> Teacher {
        let model = try ModelLoader.load(path: path)
        guard model.metadata.classNames == trainer.classNames, model.architecture.inputChannels == 1,
              model.metadata.inputSize == trainer.configuration.inputSize, model.metadata.mean.count == 1, model.metadata.std.count == 1 else {
            throw CommandFailure("\(path): a teacher must have this run's classes (\(trainer.classNames.joined(separator: ", "))), one input channel and \(trainer.configuration.inputSize)x\(trainer.configuration.inputSize) input")
        }
        return Teacher(model: model)
    }

    private func load(split: String) throws -> ImageFolder {
        let dataset = try ImageFolder.load("\(data)/\(split)", size: 48, threads: threads)
        if !dataset.skipped.isEmpty {
            Terminal.error("warning: skipped \(dataset.skipped.count) unreadable image(s) in \(data)/\(split), first: \(dataset.skipped[0])")
        }
        return dataset
    }

    /// Fails before any work when the outputs cannot be written (not after an hour of training).
    private func ensureWritable(out: String, logFolder: String) throws {
        do { try FileManager.default.createDirectory(atPath: logFolder, withIntermediateDirectories: true) } catch {
            throw CommandFailure("\(logFolder): cannot create the log folder")
        }
        for path in [out, logFolder + "/.write-test"] {
            let probe = path + ".probe-\(getpid())"
            guard FileManager.default.createFile(atPath: probe, contents: Data()) else {
                throw CommandFailure("\(path): cannot write here")
            }
            try? FileManager.default.removeItem(atPath: probe)
        }
    }

    private func write(_ history: TrainingHistory, to folder: String) throws {
        var files = [("history.json", history.json), ("history.csv", history.csv)]
        files += history.plots.map { ($0.name, $0.svg) }
        for (name, text) in files {
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: "\(folder)/\(name)"), options: .atomic) } catch {
                throw CommandFailure("\(folder)/\(name): cannot write")
            }
        }
    }
}

extension ResNet9Architecture.ClassifierPooling: ExpressibleByArgument {}
