/// Frames a source could not read: the first `kept` with their reasons, and how many in all. A camera that
/// drops frames all day, or a looping replay of a folder with one corrupt file, adds one at a time for as
/// long as it runs; this keeps the memory for them constant.
public struct SkippedFrames: Sequence, Sendable {
    /// How many are kept with their reasons (a summary shows the first few).
    public static let kept = 100

    /// Every frame skipped, kept or not.
    public private(set) var count = 0
    private var errors: [ImageError] = []

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public mutating func append(_ error: ImageError) {
        count += 1
        if errors.count < Self.kept { errors.append(error) }
    }

    /// Adds another source's skipped frames after these (a sequence of inputs).
    public mutating func append(contentsOf other: SkippedFrames) {
        count += other.count
        errors += other.errors.prefix(Self.kept - errors.count)
    }

    /// The kept ones, in the order they were skipped.
    public func makeIterator() -> IndexingIterator<[ImageError]> { errors.makeIterator() }
}
