/// Classifying a labelled dataset in batches: training's validation, `evaluate` and `calibrate`.
extension EmotionClassifier {
    /// Predictions for the dataset's images at `indices` (all when nil), in that order, `batch` at a time.
    public func classify(_ dataset: ImageFolder, indices: [Int]? = nil, batch: Int = 64) -> [EmotionPrediction] {
        let classes = classNames.count
        let probabilities = softmaxRows(logits(dataset, indices: indices, batch: batch).map { $0 / temperature }, columns: classes)
        return stride(from: 0, to: probabilities.count, by: classes).map {
            EmotionPrediction(classNames: classNames, probabilities: Array(probabilities[$0..<$0 + classes]))
        }
    }

    /// Logits before any temperature for the dataset's images at `indices` (all when nil), in that order:
    /// [images * classes].
    public func logits(_ dataset: ImageFolder, indices: [Int]? = nil, batch: Int = 64) -> [Float] {
        let chosen = indices ?? Array(0..<dataset.count), size = dataset.size, step = max(1, batch)
        var logits: [Float] = []
        logits.reserveCapacity(chosen.count * classNames.count)
        for start in stride(from: 0, to: chosen.count, by: step) {
            var scalars: [Float] = []
            scalars.reserveCapacity(step * preprocessor.inputLength)
            for index in chosen[start..<min(chosen.count, start + step)] {
                scalars += preprocessor.input(for: ByteImage(width: size, height: size, pixels: Array(dataset.image(index))))
                    ?? [Float](repeating: 0, count: preprocessor.inputLength)
            }
            let count = scalars.count / preprocessor.inputLength, side = preprocessor.inputSize
            logits += self.logits(for: Tensor(shape: [count, preprocessor.channels, side, side], scalars: scalars))
        }
        return logits
    }
}
