/// A dense Float32 tensor stored row-major (the last dimension varies fastest), shaped like PyTorch's:
/// NCHW for image batches, `[out, in, kh, kw]` for convolution weights.
///
/// A value type; copies are cheap until mutated (copy-on-write through `Array`).
public struct Tensor: Equatable, Sendable {
    /// Extent of each dimension. An empty shape is a scalar holding one element.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count` is the product of `shape`.
    public var scalars: [Float]

    /// Creates a tensor from its shape and row-major elements.
    /// - Precondition: `scalars.count` equals the product of `shape`.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
        precondition(Tensor.elementCount(of: shape) == scalars.count,
                     "shape \(shape) needs \(Tensor.elementCount(of: shape)) elements, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// Creates a tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: Tensor.elementCount(of: shape)))
    }

    /// Number of elements.
    public var count: Int { scalars.count }

    /// Number of elements a tensor of `shape` holds.
    public static func elementCount(of shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The product of `shape`, or nil when an extent is negative or the product overflows: for shapes read
    /// from files.
    public static func checkedElementCount(of shape: [Int]) -> Int? {
        var count = 1
        for extent in shape {
            guard extent >= 0 else { return nil }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            if overflow { return nil }
            count = product
        }
        return count
    }
}
