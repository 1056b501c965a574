extension StateDict {
    /// Fresh ResNet9 weights initialized as PyTorch initializes `Conv2d`, `Linear` and `BatchNorm2d`:
    /// weights and biases uniform in +-1/sqrt(fan_in) (kaiming_uniform with a = sqrt(5)), batch-norm
    /// scale 1, shift 0, running mean 0, running variance 1. Deterministic for a given seed.
    public static func initialized(_ architecture: ResNet9Architecture, seed: UInt64) -> StateDict {
        var random = SplitMix64(seed: seed)
        var entries: [Entry] = []
        for (name, shape, isInteger) in architecture.parameterLayout {
            let count = Tensor.elementCount(of: shape)
            let values: [Float]
            if isInteger || name.hasSuffix("running_mean") || name.hasSuffix(".1.bias") {
                values = [Float](repeating: 0, count: count)
            } else if name.hasSuffix("running_var") || name.hasSuffix(".1.weight") {
                values = [Float](repeating: 1, count: count)
            } else {
                // Conv and linear weight/bias: fan_in of the layer the tensor belongs to.
                let layer = String(name.dropLast(name.hasSuffix(".weight") ? ".weight".count : ".bias".count))
                let weightShape = architecture.parameterLayout.first { $0.name == layer + ".weight" }!.shape
                let bound = 1 / Float(weightShape.dropFirst().reduce(1, *)).squareRoot()
                values = (0..<count).map { _ in random.uniform(-bound, bound) }
            }
            entries.append(Entry(name: name, tensor: Tensor(shape: shape, scalars: values), isInteger: isInteger))
        }
        return StateDict(entries)
    }
}
