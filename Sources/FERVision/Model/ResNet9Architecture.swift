/// The shape of a ResNet9 (RECIPE.md), with its widths read from the weights so the reference
/// `ResNet9(3, 10)`, our `ResNet9(1, 7)` and narrow test variants are all the same network.
///
/// conv1 = block(in, w0); conv2 = block(w0, w1, pool); res1 = block(w1, w1), block(w1, w1) (+ skip);
/// conv3 = block(w1, w2, pool); conv4 = block(w2, w3, pool); res2 = block(w3, w3), block(w3, w3) (+ skip);
/// classifier = MaxPool2d(4) -> Flatten -> Linear(w3, classes), or a max over the whole final map
/// (`ClassifierPooling`), which changes no parameter.
public struct ResNet9Architecture: Equatable, Sendable {
    /// How the classifier pools the last feature map (6x6 for a 48x48 input) to one value per channel.
    public enum ClassifierPooling: String, Sendable, Equatable, Codable, CaseIterable {
        /// The reference's MaxPool2d(4) with floor semantics: only the top-left 4x4 window is read.
        case topLeft4 = "maxpool4"
        /// The maximum over the whole map (PyTorch's AdaptiveMaxPool2d(1)): every position counts.
        case wholeMap = "global_max"
    }

    /// One `conv_block`: Conv2d 3x3 pad 1 -> BatchNorm2d -> ReLU -> optional MaxPool2d(2).
    public struct Block: Equatable, Sendable {
        /// The state-dict prefix, e.g. `res1.0`; the convolution is `<name>.0`, the batch norm `<name>.1`.
        public let name: String
        public let inChannels: Int
        public let outChannels: Int
        public let pools: Bool
        /// The residual connection: this block's output (after its ReLU) adds the input of the block at
        /// this index. nil for a plain block.
        public let addsInputOf: Int?

        init(name: String, inChannels: Int, outChannels: Int, pools: Bool, addsInputOf: Int? = nil) {
            precondition(!(pools && addsInputOf != nil), "a residual block must keep its input's size")
            self.name = name
            self.inChannels = inChannels
            self.outChannels = outChannels
            self.pools = pools
            self.addsInputOf = addsInputOf
        }
    }

    public let inputChannels: Int
    /// Output widths of conv1, conv2 (and res1), conv3, conv4 (and res2): 64, 128, 256, 512 in the recipe.
    public let widths: [Int]
    public let classCount: Int
    /// The classifier's pooling; not stored in the weights, so model files name it in their metadata.
    public var classifierPooling: ClassifierPooling

    /// The recipe's widths.
    public static let standardWidths = [64, 128, 256, 512]
    /// The classifier's `Linear` layer in the state dict.
    public static let classifierPrefix = "classifier.2"

    public init(inputChannels: Int, classCount: Int, widths: [Int] = ResNet9Architecture.standardWidths,
                classifierPooling: ClassifierPooling = .topLeft4) {
        precondition(widths.count == 4 && inputChannels > 0 && classCount > 0 && widths.allSatisfy { $0 > 0 })
        self.inputChannels = inputChannels
        self.widths = widths
        self.classCount = classCount
        self.classifierPooling = classifierPooling
    }

    /// The eight blocks in forward order, with their residual connections: the one description that
    /// inference, training and the state-dict layout all walk.
    public var blocks: [Block] {
        let w = widths
        return [
            Block(name: "conv1", inChannels: inputChannels, outChannels: w[0], pools: false),
            Block(name: "conv2", inChannels: w[0], outChannels: w[1], pools: true),
            Block(name: "res1.0", inChannels: w[1], outChannels: w[1], pools: false),
            Block(name: "res1.1", inChannels: w[1], outChannels: w[1], pools: false, addsInputOf: 2),
            Block(name: "conv3", inChannels: w[1], outChannels: w[2], pools: true),
            Block(name: "conv4", inChannels: w[2], outChannels: w[3], pools: true),
            Block(name: "res2.0", inChannels: w[3], outChannels: w[3], pools: false),
            Block(name: "res2.1", inChannels: w[3], outChannels: w[3], pools: false, addsInputOf: 6),
        ]
    }

    /// The blocks whose input a later block adds (the residuals' skip sources).
    public var skipSources: Set<Int> { Set(blocks.compactMap(\.addsInputOf)) }

    /// Every state-dict key with its shape, in PyTorch's `state_dict()` order.
    /// `num_batches_tracked` (an int64 scalar) is listed with `isInteger` set.
    public var parameterLayout: [(name: String, shape: [Int], isInteger: Bool)] {
        var layout: [(String, [Int], Bool)] = []
        for block in blocks {
            let conv = "\(block.name).0", norm = "\(block.name).1", c = block.outChannels
            layout.append(("\(conv).weight", [c, block.inChannels, 3, 3], false))
            layout.append(("\(conv).bias", [c], false))
            layout.append(("\(norm).weight", [c], false))
            layout.append(("\(norm).bias", [c], false))
            layout.append(("\(norm).running_mean", [c], false))
            layout.append(("\(norm).running_var", [c], false))
            layout.append(("\(norm).num_batches_tracked", [], true))
        }
        layout.append(("\(Self.classifierPrefix).weight", [classCount, widths[3]], false))
        layout.append(("\(Self.classifierPrefix).bias", [classCount], false))
        return layout
    }

    /// Reads the widths from the convolution and classifier weight shapes. Throws, naming the key, when a
    /// shape needed to infer them is absent or malformed; every other key is checked against
    /// `parameterLayout` afterwards.
    public init(inferringFrom shapes: [String: [Int]]) throws(InferenceFailure) {
        func outputs(of block: String) throws(InferenceFailure) -> [Int] {
            let key = "\(block).0.weight"
            guard let shape = shapes[key] else { throw .missing(key) }
            guard shape.count == 4, shape.allSatisfy({ $0 > 0 }) else { throw .badShape(key, shape) }
            return shape
        }
        let inputChannels = try outputs(of: "conv1")[1]
        var widths: [Int] = []
        for block in ["conv1", "conv2", "conv3", "conv4"] { widths.append(try outputs(of: block)[0]) }
        let classifierKey = "\(Self.classifierPrefix).weight"
        guard let classifier = shapes[classifierKey] else { throw .missing(classifierKey) }
        guard classifier.count == 2, classifier[0] > 0 else { throw .badShape(classifierKey, classifier) }
        self.init(inputChannels: inputChannels, classCount: classifier[0], widths: widths)
    }

    /// Why the widths could not be read.
    public enum InferenceFailure: Error, Equatable {
        case missing(String)
        case badShape(String, [Int])
    }

    /// The classifier's pooling window on the last feature map of an `inputSize` input (after three 2x2
    /// pools): 4 for the reference, the whole map's side otherwise. Either leaves a 1x1 map for the
    /// accepted sizes.
    public func classifierPoolKernel(inputSize: Int) -> Int {
        switch classifierPooling {
        case .topLeft4: 4
        case .wholeMap: inputSize / 8
        }
    }

    /// The input sizes this network accepts: the flattened classifier input must be exactly `widths[3]`
    /// features, so the final pool must leave a 1x1 map.
    public static let acceptedInputSizes = 32...63

    /// Multiply-adds of one forward pass on a `inputSize` x `inputSize` image (0.851 G for the recipe at 48).
    public func multiplyAdds(inputSize: Int) -> Int {
        var side = inputSize, total = 0
        for block in blocks {
            total += block.outChannels * block.inChannels * 9 * side * side
            if block.pools { side /= 2 }
        }
        return total + classCount * widths[3]
    }

    /// Number of learned parameters (weights, biases, batch-norm scales and shifts).
    public var parameterCount: Int {
        parameterLayout.filter { !$0.isInteger && !$0.name.hasSuffix("running_mean") && !$0.name.hasSuffix("running_var") }
            .reduce(0) { $0 + Tensor.elementCount(of: $1.shape) }
    }
}
