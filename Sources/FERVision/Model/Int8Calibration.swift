import Foundation

/// The activation ranges of 8-bit inference (`QuantizedResNet9`): for each block, the value its output maps
/// to 255 (larger values saturate), measured on training images with the float network.
///
/// Kept in a small JSON file beside the model (`sidecarPath(forModel:)`), tied to the model file by its
/// SHA-256, so that a model retrained in place is never run with another model's ranges.
public struct Int8Calibration: Codable, Equatable, Sendable {
    public static let formatName = "fer-live int8 calibration 1"

    public var format = Int8Calibration.formatName
    /// One range per block of `ResNet9Architecture.blocks`, in the network's float units.
    public var blockOutputRanges: [Float]
    /// The images measured, and which of their peaks each range is: a quantile of the images' largest
    /// values in that output (1: the largest of all).
    public var images: Int
    public var quantile: Double
    /// SHA-256 of the model file measured.
    public var modelDigest: String

    public init(blockOutputRanges: [Float], images: Int, quantile: Double, modelDigest: String) {
        self.blockOutputRanges = blockOutputRanges
        self.images = images
        self.quantile = quantile
        self.modelDigest = modelDigest
    }

    /// Ranges from the float network's block-output peaks (`ResNet9.blockOutputPeaks`, one row per image):
    /// per block, the `quantile` of the images' peaks.
    /// - Precondition: at least one image, and `quantile` in 0...1.
    public init(peaks: [[Float]], quantile: Double, modelDigest: String) {
        precondition(!peaks.isEmpty && (0...1).contains(quantile))
        let blocks = peaks[0].count
        blockOutputRanges = (0..<blocks).map { block in
            let sorted = peaks.map { $0[block] }.sorted()
            let index = min(sorted.count - 1, Int((quantile * Double(sorted.count - 1)).rounded()))
            return max(sorted[index], .leastNormalMagnitude)
        }
        images = peaks.count
        self.quantile = quantile
        self.modelDigest = modelDigest
    }

    /// Where a model's calibration lives: `models/x.safetensors` -> `models/x.int8.json`.
    public static func sidecarPath(forModel path: String) -> String {
        ((path as NSString).deletingPathExtension as NSString).appendingPathExtension("int8.json")!
    }

    /// Reads the calibration at `path` and checks it belongs to the model file whose SHA-256 is `modelDigest`.
    public static func load(path: String, modelPath: String, modelDigest: String, blocks: Int) throws(ModelFileError) -> Int8Calibration {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw ModelFileError(.unreadable, path: path, FileManager.default.fileExists(atPath: path)
                ? "cannot be read" : "no 8-bit calibration for \(modelPath) (make one with `fer-live quantize --model \(modelPath) --data TRAIN_DIR`)")
        }
        guard let calibration = try? JSONDecoder().decode(Int8Calibration.self, from: data), calibration.format == formatName else {
            throw ModelFileError(.invalidMetadata, path: path, "not a fer-live 8-bit calibration (\(formatName))")
        }
        guard calibration.blockOutputRanges.count == blocks,
              calibration.blockOutputRanges.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw ModelFileError(.invalidMetadata, path: path, "needs \(blocks) positive finite block ranges")
        }
        guard calibration.modelDigest == modelDigest else {
            throw ModelFileError(.invalidMetadata, path: path,
                                 "was measured for another model file than \(modelPath) (run `fer-live quantize` again)")
        }
        return calibration
    }

    /// Writes the calibration as JSON, replacing `path` only once the whole file is written.
    public func write(to path: String) throws(ModelFileError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw ModelFileError(.notWritable, path: path, "cannot be written (\(error.localizedDescription))")
        }
    }
}

extension Int8Calibration {
    /// Measures the ranges on `count` images of `images` (evenly spread over it, so every class is in),
    /// preprocessed as `model` expects, with the float network.
    public static func measure(model: LoadedModel, on images: ImageFolder, count: Int, quantile: Double, modelDigest: String,
                               progress: ((Int) -> Void)? = nil) -> Int8Calibration {
        let network = model.makeNetwork(), preprocessor = Preprocessor(metadata: model.metadata)
        let chosen = count >= images.count ? Array(0..<images.count) : (0..<count).map { $0 * images.count / count }
        let size = images.size, side = preprocessor.inputSize, batch = 64
        var peaks: [[Float]] = []
        for start in stride(from: 0, to: chosen.count, by: batch) {
            var scalars: [Float] = []
            for index in chosen[start..<min(chosen.count, start + batch)] {
                scalars += preprocessor.input(for: ByteImage(width: size, height: size, pixels: Array(images.image(index))))
                    ?? [Float](repeating: 0, count: preprocessor.inputLength)
            }
            let n = scalars.count / preprocessor.inputLength
            peaks += network.blockOutputPeaks(for: Tensor(shape: [n, preprocessor.channels, side, side], scalars: scalars))
            progress?(peaks.count)
        }
        return Int8Calibration(peaks: peaks, quantile: quantile, modelDigest: modelDigest)
    }
}
