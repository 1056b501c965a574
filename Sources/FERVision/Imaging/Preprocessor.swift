/// The one path from an image to the network's input, shared by classification, replay, live capture
/// and training, so a model sees the same pixels everywhere:
/// 8-bit grayscale -> crop (center square by default) -> area-averaging resize to `inputSize`
/// -> scale to [0, 1] -> (x - mean) / std per input channel (grayscale replicated to each channel).
///
/// Thread safety: a value with no shared state; use from any thread.
public struct Preprocessor: Sendable {
    public let inputSize: Int
    public let channels: Int
    public let mean: [Float]
    public let std: [Float]

    public init(inputSize: Int, channels: Int, mean: [Float], std: [Float]) {
        precondition(inputSize > 0 && channels > 0)
        precondition((mean.count == 1 || mean.count == channels) && (std.count == 1 || std.count == channels))
        self.inputSize = inputSize
        self.channels = channels
        self.mean = mean
        self.std = std
    }

    /// The preprocessing a model's metadata asks for.
    public init(metadata: ModelMetadata) {
        self.init(inputSize: metadata.inputSize, channels: metadata.inputChannels, mean: metadata.mean, std: metadata.std)
    }

    /// Floats per image: channels * inputSize * inputSize.
    public var inputLength: Int { channels * inputSize * inputSize }

    /// The crop, resized to `inputSize` x `inputSize` by area averaging, on the [0, 1] scale (before
    /// normalization). The crop is clamped to the image; `nil` when nothing of it is inside.
    public func resizedGray(_ image: ByteImage, crop: PixelRect? = nil) -> [Float]? {
        let gray = image.grayscale()
        let box = (crop ?? .centerSquare(width: gray.width, height: gray.height)).clamped(toWidth: gray.width, height: gray.height)
        guard box.width > 0, box.height > 0 else { return nil }
        let size = inputSize
        let columns = AreaWeights(source: box.width, target: size), rows = AreaWeights(source: box.height, target: size)
        // Horizontal pass over the crop's rows, then vertical; weights are fractions of each output pixel's
        // footprint, so a pixel straddling a boundary counts in proportion.
        var horizontal = [Float](repeating: 0, count: box.height * size)
        gray.pixels.withUnsafeBufferPointer { pixels in
            for y in 0..<box.height {
                let row = pixels.baseAddress! + (box.y + y) * gray.width + box.x
                for (i, tap) in columns.taps.enumerated() {
                    var sum: Float = 0
                    for (k, weight) in tap.weights.enumerated() { sum += weight * Float(row[tap.start + k]) }
                    horizontal[y * size + i] = sum
                }
            }
        }
        var result = [Float](repeating: 0, count: size * size)
        for (j, tap) in rows.taps.enumerated() {
            for (k, weight) in tap.weights.enumerated() {
                let source = (tap.start + k) * size
                for i in 0..<size { result[j * size + i] += weight * horizontal[source + i] }
            }
        }
        for i in 0..<result.count { result[i] /= 255 }
        return result
    }

    /// The normalized network input for one image: [channels, inputSize, inputSize], or nil when the crop
    /// lies outside the image.
    public func input(for image: ByteImage, crop: PixelRect? = nil) -> [Float]? {
        resizedGray(image, crop: crop).map(normalized)
    }

    /// A face crop at `inputSize` x `inputSize` on the [0, 1] scale: whole-pixel squares as
    /// `resizedGray(_:crop:)` with their rectangle (area averaging), rotated or fractional ones through
    /// `FaceCrop`'s prefiltered sampling. nil when a whole-pixel crop lies outside the image or the crop
    /// is empty.
    public func resizedGray(_ image: ByteImage, crop: FaceCrop) -> [Float]? {
        if let rect = crop.exactRect { return resizedGray(image, crop: rect) }
        guard crop.side > 0, crop.side.isFinite, image.width > 0, image.height > 0 else { return nil }
        return crop.sampled(image.grayscale(), size: inputSize)
    }

    /// The normalized network input for a face crop (see `resizedGray(_:crop:)`).
    public func input(for image: ByteImage, crop: FaceCrop) -> [Float]? {
        resizedGray(image, crop: crop).map(normalized)
    }

    /// The last step on its own, for pixels already cropped and resized (training keeps its images at the
    /// input size and augments them first): (x - mean) / std per channel, grayscale replicated to each.
    /// - Parameter gray: inputSize * inputSize values on the [0, 1] scale.
    public func normalized(_ gray: [Float]) -> [Float] {
        let plane = inputSize * inputSize
        precondition(gray.count == plane, "\(gray.count) values for a \(inputSize)x\(inputSize) input")
        var result = [Float](repeating: 0, count: inputLength)
        for c in 0..<channels {
            let m = mean.count == 1 ? mean[0] : mean[c], s = std.count == 1 ? std[0] : std[c]
            for i in 0..<plane { result[c * plane + i] = (gray[i] - m) / s }
        }
        return result
    }
}

/// Area-averaging weights along one axis: output pixel i covers source interval
/// [i * s, (i + 1) * s) with s = source / target, and each source pixel weighs by its overlap / s.
struct AreaWeights {
    struct Tap { let start: Int; let weights: [Float] }
    let taps: [Tap]

    init(source: Int, target: Int) {
        let scale = Double(source) / Double(target)
        taps = (0..<target).map { i in
            let low = Double(i) * scale, high = Double(i + 1) * scale
            let first = Int(low.rounded(.down)), last = min(source, Int(high.rounded(.up))) - 1
            let weights = (first...max(first, last)).map { j in
                Float((min(high, Double(j + 1)) - max(low, Double(j))) / scale)
            }
            return Tap(start: first, weights: weights)
        }
    }
}
