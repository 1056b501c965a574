import Foundation

/// Every setting of a training run; the defaults are the reference recipe (RECIPE.md).
public struct TrainingConfiguration: Sendable, Equatable, Codable {
    public var epochs = 4
    public var batchSize = 64
    public var maxLearningRate = 0.005
    public var weightDecay = 9e-6
    public var gradientClip = 0.1
    public var seed: UInt64 = 0
    public var padCrop = false
    public var flip = true
    public var rotation = true
    /// Probability of random erasing per image (0: off).
    public var erasing = 0.0
    /// Largest relative zoom of the random scale jitter (0: off).
    public var scaleJitter = 0.0
    /// Label smoothing: targets (1 - e) one-hot + e / classes, as PyTorch's `label_smoothing` (0: off).
    public var labelSmoothing = 0.0
    /// Mixup's Beta(alpha, alpha) parameter: each batch is blended with a shuffled copy of itself (0: off).
    public var mixup = 0.0
    /// Dropout probability on the classifier's input features (0: off; adds no parameters).
    public var dropout = 0.0
    /// Strength of the photometric jitter (blur, light, noise, JPEG; 0: off). See `PhotometricJitter`.
    public var photometric = 0.0
    /// Class balance: each image's loss is weighted by (mean class count / its class's count)^power, the
    /// weights scaled so a training image weighs 1 on average (0: off; 1: every class weighs the same).
    public var classBalance = 0.0
    public var classifierPooling = ResNet9Architecture.ClassifierPooling.topLeft4
    /// Knowledge distillation: each target row becomes (1 - d) of itself plus d of the teachers' mean
    /// calibrated probabilities on the same augmented image (0: off).
    public var distillation = 0.0
    /// The teacher models' files (kept so that a resumed run loads the same ones).
    public var teachers: [String] = []
    /// Train on this many images of the training split, a seeded random subset (0: all). For pilot runs.
    public var subset = 0
    public var widths = ResNet9Architecture.standardWidths
    public var inputSize = 48

    public init() {}

    public var augmentation: Augmentation {
        Augmentation(padCrop: padCrop, flip: flip, rotation: rotation, erasing: erasing, scaleJitter: scaleJitter)
    }

    // Checkpoints written before a setting existed decode with that setting's default (the recipe's).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = TrainingConfiguration()
        epochs = try c.decode(Int.self, forKey: .epochs)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        maxLearningRate = try c.decode(Double.self, forKey: .maxLearningRate)
        weightDecay = try c.decode(Double.self, forKey: .weightDecay)
        gradientClip = try c.decode(Double.self, forKey: .gradientClip)
        seed = try c.decode(UInt64.self, forKey: .seed)
        padCrop = try c.decode(Bool.self, forKey: .padCrop)
        flip = try c.decode(Bool.self, forKey: .flip)
        rotation = try c.decode(Bool.self, forKey: .rotation)
        erasing = try c.decodeIfPresent(Double.self, forKey: .erasing) ?? defaults.erasing
        scaleJitter = try c.decodeIfPresent(Double.self, forKey: .scaleJitter) ?? defaults.scaleJitter
        labelSmoothing = try c.decodeIfPresent(Double.self, forKey: .labelSmoothing) ?? defaults.labelSmoothing
        mixup = try c.decodeIfPresent(Double.self, forKey: .mixup) ?? defaults.mixup
        dropout = try c.decodeIfPresent(Double.self, forKey: .dropout) ?? defaults.dropout
        photometric = try c.decodeIfPresent(Double.self, forKey: .photometric) ?? defaults.photometric
        classBalance = try c.decodeIfPresent(Double.self, forKey: .classBalance) ?? defaults.classBalance
        distillation = try c.decodeIfPresent(Double.self, forKey: .distillation) ?? defaults.distillation
        teachers = try c.decodeIfPresent([String].self, forKey: .teachers) ?? defaults.teachers
        classifierPooling = try c.decodeIfPresent(ResNet9Architecture.ClassifierPooling.self, forKey: .classifierPooling)
            ?? defaults.classifierPooling
        subset = try c.decodeIfPresent(Int.self, forKey: .subset) ?? defaults.subset
        widths = try c.decode([Int].self, forKey: .widths)
        inputSize = try c.decode(Int.self, forKey: .inputSize)
    }

    /// Target rows [labels, classes] for `labels`: one-hot, or with label smoothing (1 - e) one-hot + e / classes;
    /// each row scaled by its label's weight when `weights` (one per class) are given.
    public func targets(_ labels: [Int], classes: Int, weights: [Float]? = nil) -> [Float] {
        let e = Float(labelSmoothing), off = e / Float(classes)
        var rows = [Float](repeating: off, count: labels.count * classes)
        for (i, label) in labels.enumerated() {
            rows[i * classes + label] = 1 - e + off
            if let weights { for k in 0..<classes { rows[i * classes + k] *= weights[label] } }
        }
        return rows
    }

    /// The per-class loss weights for training images with these labels (`classBalance`), or nil when off.
    /// A class with no image gets weight 0 (it contributes nothing either way).
    public func classWeights(labels: [Int], classes: Int) -> [Float]? {
        guard classBalance > 0, !labels.isEmpty else { return nil }
        var counts = [Double](repeating: 0, count: classes)
        for label in labels { counts[label] += 1 }
        let present = counts.filter { $0 > 0 }
        let meanCount = present.reduce(0, +) / Double(present.count)
        var weights = counts.map { $0 > 0 ? Foundation.pow(meanCount / $0, classBalance) : 0 }
        let average = zip(weights, counts).map { $0 * $1 }.reduce(0, +) / Double(labels.count)
        weights = weights.map { $0 / average }
        return weights.map { Float($0) }
    }

    /// Why these settings cannot train, in one line naming the setting; nil when they can. Checked for
    /// the command line's flags and for a resumed checkpoint's stored settings alike.
    public var problem: String? {
        if epochs <= 0 { return "epochs must be positive (\(epochs))" }
        if batchSize <= 0 || batchSize > 4096 { return "batch size must be 1...4096 (\(batchSize))" }
        if !(maxLearningRate > 0 && maxLearningRate.isFinite) { return "max learning rate must be positive and finite (\(maxLearningRate))" }
        if !(weightDecay >= 0 && weightDecay.isFinite) { return "weight decay must be finite and not negative (\(weightDecay))" }
        if !(gradientClip > 0) { return "gradient clip must be positive (\(gradientClip))" }
        if !(0...1).contains(erasing) { return "erasing probability must be in 0...1 (\(erasing))" }
        if !(0..<0.5).contains(scaleJitter) { return "scale jitter must be in 0..<0.5 (\(scaleJitter))" }
        if !(0..<1).contains(labelSmoothing) { return "label smoothing must be in 0..<1 (\(labelSmoothing))" }
        if !(mixup >= 0 && mixup.isFinite) { return "mixup alpha must be finite and not negative (\(mixup))" }
        if !(0..<1).contains(dropout) { return "dropout must be in 0..<1 (\(dropout))" }
        if !(0...1).contains(photometric) { return "photometric strength must be in 0...1 (\(photometric))" }
        if !(0...1).contains(classBalance) { return "class balance must be in 0...1 (\(classBalance))" }
        if !(0...1).contains(distillation) { return "distillation weight must be in 0...1 (\(distillation))" }
        if distillation > 0, teachers.isEmpty { return "distillation needs at least one teacher model" }
        if subset < 0 { return "subset must not be negative (\(subset))" }
        if widths.count != 4 || !widths.allSatisfy({ (1...2048).contains($0) }) { return "widths must be 4 values in 1...2048 (\(widths))" }
        if !ResNet9Architecture.acceptedInputSizes.contains(inputSize) { return "input size must be in \(ResNet9Architecture.acceptedInputSizes) (\(inputSize))" }
        return nil
    }
}

/// One epoch's line of the reference's log.
public struct EpochRecord: Sendable, Equatable, Codable {
    public var epoch: Int
    public var lastLearningRate: Double
    public var trainLoss: Double
    public var validationLoss: Double
    public var validationAccuracy: Double
    public var seconds: Double
    public var imagesPerSecond: Double

    /// The reference notebook's epoch line.
    public var logLine: String {
        String(format: "Epoch [%d], last_lr: %.5f, train_loss: %.4f, val_loss: %.4f, val_acc: %.4f", epoch, lastLearningRate,
               trainLoss, validationLoss, validationAccuracy)
    }
}

/// Everything recorded during training: per-epoch results and the learning rate of every batch.
public struct TrainingHistory: Sendable, Equatable, Codable {
    public var epochs: [EpochRecord] = []
    public var learningRates: [Double] = []
    public init() {}
}

/// The reference recipe's training loop: shuffled batches, augmentation, forward/backward with batch
/// statistics, gradient clipping by value, Adam with L2 weight decay, one-cycle learning rate and beta1
/// stepped every batch; validation in evaluation mode after every epoch.
///
/// Deterministic: the same seed, data and thread count give the same weights.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let classNames: [String]
    public let mean: Float
    public let std: Float
    public let network: TrainableResNet9
    public private(set) var optimizer: Adam
    public let schedule: OneCycleSchedule
    public private(set) var random: SplitMix64
    /// Completed epochs.
    public private(set) var completedEpochs = 0
    public private(set) var history = TrainingHistory()
    public let stepsPerEpoch: Int

    /// The models whose probabilities the network learns from when `configuration.distillation` > 0:
    /// loaded from `configuration.teachers` by whoever makes the trainer.
    public var teachers: [Teacher] = []

    /// The training images this run learns from: all, or its seeded subset.
    public let trainingIndices: [Int]

    /// A fresh run on `trainingSet` (its class names and pixel statistics go into the model), from random
    /// weights or, for a warm restart, from `initialWeights` (a state dict of the same widths and classes).
    /// - Precondition: `configuration.problem` is nil.
    public init(configuration: TrainingConfiguration, trainingSet: ImageFolder, initialWeights: StateDict? = nil) {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        self.configuration = configuration
        classNames = trainingSet.classNames
        (mean, std) = trainingSet.pixelStatistics()
        let architecture = ResNet9Architecture(inputChannels: 1, classCount: classNames.count, widths: configuration.widths,
                                               classifierPooling: configuration.classifierPooling)
        network = TrainableResNet9(stateDict: initialWeights ?? .initialized(architecture, seed: configuration.seed),
                                   architecture: architecture, inputSize: configuration.inputSize)
        optimizer = Adam(parameterCount: network.parameters.count, learningRate: configuration.maxLearningRate,
                         weightDecay: configuration.weightDecay)
        trainingIndices = Self.trainingIndices(configuration, count: trainingSet.count)
        stepsPerEpoch = (trainingIndices.count + configuration.batchSize - 1) / configuration.batchSize
        schedule = OneCycleSchedule(maxLearningRate: configuration.maxLearningRate, totalSteps: configuration.epochs * stepsPerEpoch)
        random = SplitMix64(seed: configuration.seed &+ 0x5EED)
    }

    /// All of 0..<count, or `configuration.subset` of them drawn with the run's seed (sorted).
    static func trainingIndices(_ configuration: TrainingConfiguration, count: Int) -> [Int] {
        guard configuration.subset > 0, configuration.subset < count else { return Array(0..<count) }
        var order = Array(0..<count), draw = SplitMix64(seed: configuration.seed ^ 0x5B5E7)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(draw.next() % UInt64(i + 1))) }
        return order.prefix(configuration.subset).sorted()
    }

    /// Progress within an epoch: images done, images in the epoch, images per second, running loss.
    public typealias Progress = (_ done: Int, _ total: Int, _ imagesPerSecond: Double, _ loss: Double) -> Void

    /// Trains one epoch on `trainingSet`, then validates on `validationSet`.
    public func runEpoch(trainingSet: ImageFolder, validationSet: ImageFolder, progress: Progress? = nil) -> EpochRecord {
        let started = Date()
        let size = configuration.inputSize, plane = size * size, batchSize = configuration.batchSize
        let classes = classNames.count
        var order = trainingIndices
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        var augmentation = configuration.augmentation
        augmentation.erasingValue = UInt8((mean * 255).rounded())
        let photometric = PhotometricJitter(strength: configuration.photometric)
        let weights = configuration.classWeights(labels: trainingIndices.map { trainingSet.labels[$0] }, classes: classes)
        let preprocessor = self.preprocessor
        var lossSum = 0.0, done = 0
        for batchStart in stride(from: 0, to: order.count, by: batchSize) {
            let indices = Array(order[batchStart..<min(order.count, batchStart + batchSize)])
            var scalars = [Float](repeating: 0, count: indices.count * plane)
            for (k, index) in indices.enumerated() {
                var pixels = augmentation.isEnabled
                    ? augmentation.apply(trainingSet.image(index), size: size, random: &random)
                    : Array(trainingSet.image(index))
                photometric.apply(&pixels, size: size, random: &random)
                scalars.replaceSubrange(k * plane..<(k + 1) * plane, with: preprocessor.normalized(pixels.map { Float($0) / 255 }))
            }
            var targets = configuration.targets(indices.map { trainingSet.labels[$0] }, classes: classes, weights: weights)
            if configuration.mixup > 0 { mix(&scalars, &targets, images: indices.count, plane: plane, classes: classes) }
            if configuration.distillation > 0 {
                Self.distill(&targets, toward: teacherProbabilities(scalars, images: indices.count), weight: Float(configuration.distillation),
                             classes: classes)
            }
            let inputs = Tensor(shape: [indices.count, 1, size, size], scalars: scalars)
            let loss = network.step(inputs: inputs, targets: Tensor(shape: [indices.count, classes], scalars: targets),
                                    featureMask: dropoutMask(features: indices.count * network.architecture.widths[3]))
            let step = completedEpochs * stepsPerEpoch + batchStart / batchSize
            let (rate, beta1) = schedule.values(at: step)
            network.clipGradients(limit: Float(configuration.gradientClip))
            optimizer.learningRate = rate
            optimizer.beta1 = beta1
            optimizer.update(&network.parameters, gradients: network.gradients)
            history.learningRates.append(rate)
            lossSum += loss * Double(indices.count)
            done += indices.count
            progress?(done, order.count, Double(done) / max(1e-9, Date().timeIntervalSince(started)), lossSum / Double(done))
        }
        let seconds = Date().timeIntervalSince(started)
        let validation = evaluate(validationSet)
        let record = EpochRecord(epoch: completedEpochs, lastLearningRate: history.learningRates.last ?? 0,
                                 trainLoss: lossSum / Double(max(1, done)), validationLoss: validation.loss,
                                 validationAccuracy: validation.accuracy, seconds: seconds,
                                 imagesPerSecond: Double(done) / max(1e-9, seconds))
        completedEpochs += 1
        history.epochs.append(record)
        return record
    }

    /// The teachers' mean calibrated probabilities [images, classes] for a batch normalized as this run
    /// normalizes (each teacher gets the same pixels in its own normalization).
    private func teacherProbabilities(_ scalars: [Float], images: Int) -> [Float] {
        precondition(!teachers.isEmpty, "distillation needs teachers: set Trainer.teachers")
        let classes = classNames.count, size = configuration.inputSize
        var mean = [Float](repeating: 0, count: images * classes)
        for teacher in teachers {
            // x = s * std + mean in [0, 1], then the teacher's (x - m) / sd.
            let scale = std / teacher.std, shift = (self.mean - teacher.mean) / teacher.std
            let input = Tensor(shape: [images, 1, size, size], scalars: scalars.map { $0 * scale + shift })
            let logits = teacher.network.logits(for: input).scalars
            for i in 0..<images {
                let row = logits[i * classes..<(i + 1) * classes].map { $0 / teacher.temperature }
                let top = row.max()!
                let exps = row.map { Foundation.exp($0 - top) }, total = exps.reduce(0, +)
                for k in 0..<classes { mean[i * classes + k] += exps[k] / total / Float(teachers.count) }
            }
        }
        return mean
    }

    /// Distillation's targets: each row becomes (1 - weight) of itself plus weight of the teachers'
    /// probabilities, scaled to the row's own sum (a class-balanced row keeps its weight).
    static func distill(_ targets: inout [Float], toward soft: [Float], weight: Float, classes: Int) {
        for i in 0..<(targets.count / classes) {
            let row = i * classes..<(i + 1) * classes, sum = targets[row].reduce(0, +)
            for k in row { targets[k] = (1 - weight) * targets[k] + weight * sum * soft[k] }
        }
    }

    /// Mixup: every image and its target become lambda * itself + (1 - lambda) * those of a partner from
    /// a random permutation of the batch, with one lambda ~ Beta(alpha, alpha) per batch.
    private func mix(_ images: inout [Float], _ targets: inout [Float], images n: Int, plane: Int, classes: Int) {
        let alpha = configuration.mixup
        let lambda = Float(random.beta(alpha, alpha))
        var partner = Array(0..<n)
        for i in stride(from: n - 1, to: 0, by: -1) { partner.swapAt(i, Int(random.next() % UInt64(i + 1))) }
        let (sourceImages, sourceTargets) = (images, targets)
        for i in 0..<n {
            let j = partner[i]
            for p in 0..<plane { images[i * plane + p] = lambda * sourceImages[i * plane + p] + (1 - lambda) * sourceImages[j * plane + p] }
            for k in 0..<classes { targets[i * classes + k] = lambda * sourceTargets[i * classes + k] + (1 - lambda) * sourceTargets[j * classes + k] }
        }
    }

    /// Dropout factors for `features` classifier inputs (0 or 1 / (1 - p)), or nil when dropout is off.
    private func dropoutMask(features: Int) -> [Float]? {
        let p = configuration.dropout
        guard p > 0 else { return nil }
        let kept = Float(1 / (1 - p))
        return (0..<features).map { _ in Double(random.uniform(0, 1)) < p ? 0 : kept }
    }

    /// Normalization with the training split's statistics: the same code inference runs.
    private var preprocessor: Preprocessor {
        Preprocessor(inputSize: configuration.inputSize, channels: 1, mean: [mean], std: [std])
    }

    /// Mean cross-entropy and accuracy on a dataset, in evaluation mode (running statistics).
    public func evaluate(_ dataset: ImageFolder) -> (loss: Double, accuracy: Double) {
        var lossSum = 0.0, correct = 0
        for (label, prediction) in zip(dataset.labels, EmotionClassifier(model: model()).classify(dataset)) {
            lossSum -= Foundation.log(Double(max(prediction.probabilities[label], Float.leastNormalMagnitude)))
            if prediction.topIndex == label { correct += 1 }
        }
        return (lossSum / Double(max(1, dataset.count)), Double(correct) / Double(max(1, dataset.count)))
    }

    /// The current weights as a model with our metadata.
    public func model(provenance: [String: String] = [:]) -> LoadedModel {
        let metadata = ModelMetadata(classNames: classNames, inputSize: configuration.inputSize, inputChannels: 1,
                                     mean: [mean], std: [std], classifierPooling: configuration.classifierPooling,
                                     provenance: provenance)
        return LoadedModel(stateDict: network.stateDict, architecture: network.architecture, metadata: metadata)
    }

    // MARK: checkpoints

    static let checkpointTag = "fer-live-train/1"

    /// Saves everything needed to continue exactly: weights, running statistics, Adam's moments and step,
    /// the random generator, epochs done, history and settings. Written to a temporary file and renamed.
    public func saveCheckpoint(to path: String) throws(ModelFileError) {
        var entries = network.stateDict.entries
        entries.append(.init(name: "optimizer.exp_avg", tensor: Tensor(shape: [optimizer.firstMoments.count], scalars: optimizer.firstMoments)))
        entries.append(.init(name: "optimizer.exp_avg_sq", tensor: Tensor(shape: [optimizer.secondMoments.count], scalars: optimizer.secondMoments)))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let metadata: [String: String] = [
            "checkpoint": Self.checkpointTag,
            "completed_epochs": String(completedEpochs),
            "adam_step": String(optimizer.step),
            "random_state": String(random.state),
            "configuration": String(decoding: (try? encoder.encode(configuration)) ?? Data(), as: UTF8.self),
            "history": String(decoding: (try? encoder.encode(history)) ?? Data(), as: UTF8.self),
            "classes": "[" + classNames.map(jsonString).joined(separator: ",") + "]",
            "mean": "\(mean)", "std": "\(std)",
            "steps_per_epoch": String(stepsPerEpoch),
        ]
        let data = SafeTensors.encode(StateDict(entries), metadata: metadata)
        do { try data.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw ModelFileError(.notWritable, path: path, "cannot write the checkpoint (\((error as NSError).localizedDescription))")
        }
    }

    /// Continues a run from a checkpoint written by `saveCheckpoint`.
    public init(resumingFrom path: String, trainingSet: ImageFolder) throws(ModelFileError) {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModelFileError(.unreadable, path: path, FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        let (tensors, stored) = try SafeTensors.decode(data, path: path)
        guard let metadata = stored, metadata["checkpoint"] == Self.checkpointTag else {
            throw ModelFileError(.invalidMetadata, path: path, "not a fer-live training checkpoint")
        }
        func field(_ key: String) throws(ModelFileError) -> String {
            guard let value = metadata[key] else { throw ModelFileError(.invalidMetadata, path: path, key: key, "missing") }
            return value
        }
        let decoder = JSONDecoder()
        guard let configuration = try? decoder.decode(TrainingConfiguration.self, from: Data(try field("configuration").utf8)),
              let history = try? decoder.decode(TrainingHistory.self, from: Data(try field("history").utf8)),
              let epochs = Int(try field("completed_epochs")), let adamStep = Int(try field("adam_step")),
              let randomState = UInt64(try field("random_state")),
              let mean = Float(try field("mean")), let std = Float(try field("std")),
              let classes = try? JSONSerialization.jsonObject(with: Data(try field("classes").utf8)) as? [String] else {
            throw ModelFileError(.invalidMetadata, path: path, "checkpoint metadata is damaged")
        }
        guard classes == trainingSet.classNames else {
            throw ModelFileError(.invalidMetadata, path: path, key: "classes", "checkpoint classes \(classes) differ from the data's \(trainingSet.classNames)")
        }
        var model = StateDict()
        for entry in tensors.entries where !entry.name.hasPrefix("optimizer.") { model[entry.name] = entry }
        var architecture = try ModelLoader.validate(model, path: path)
        architecture.classifierPooling = configuration.classifierPooling
        if let problem = configuration.problem {
            throw ModelFileError(.invalidMetadata, path: path, key: "configuration", "checkpoint settings are invalid: \(problem)")
        }
        self.configuration = configuration
        self.classNames = classes
        self.mean = mean
        self.std = std
        network = TrainableResNet9(stateDict: model, architecture: architecture, inputSize: configuration.inputSize)
        optimizer = Adam(parameterCount: network.parameters.count, learningRate: configuration.maxLearningRate,
                         weightDecay: configuration.weightDecay)
        guard let m = tensors.tensor("optimizer.exp_avg"), let v = tensors.tensor("optimizer.exp_avg_sq"),
              m.count == network.parameters.count, v.count == network.parameters.count else {
            throw ModelFileError(.missingKey, path: path, key: "optimizer.exp_avg", "optimizer state missing or of the wrong size")
        }
        optimizer.restore(step: adamStep, firstMoments: m.scalars, secondMoments: v.scalars)
        trainingIndices = Self.trainingIndices(configuration, count: trainingSet.count)
        stepsPerEpoch = (trainingIndices.count + configuration.batchSize - 1) / configuration.batchSize
        // The one-cycle schedule spans epochs * steps per epoch: a different training set would bend it.
        if let recorded = metadata["steps_per_epoch"], Int(recorded) != stepsPerEpoch {
            throw ModelFileError(.invalidMetadata, path: path, key: "steps_per_epoch",
                                 "the checkpoint's run had \(recorded) batches per epoch, this training set makes \(stepsPerEpoch)")
        }
        schedule = OneCycleSchedule(maxLearningRate: configuration.maxLearningRate, totalSteps: configuration.epochs * stepsPerEpoch)
        random = SplitMix64(seed: randomState)   // a SplitMix64's seed is its whole state
        completedEpochs = epochs
        self.history = history
    }
}

/// A trained model that a distillation run learns from: its network, its calibrated temperature and
/// the normalization it expects.
public struct Teacher {
    public let network: ResNet9
    public let temperature: Float
    public let mean: Float
    public let std: Float

    /// The teacher of a loaded model: grayscale, one normalization value.
    public init(model: LoadedModel) {
        network = model.makeNetwork()
        temperature = model.metadata.temperature
        mean = model.metadata.mean[0]
        std = model.metadata.std[0]
    }
}
