import Foundation

/// Temperature scaling (Guo et al., 2017): one number T that divides every logit, fitted to minimize the
/// negative log-likelihood of held-out labels, so a shown confidence of 70% is right about 70% of the time.
/// It changes no prediction's ranking, so accuracy stays exactly as it was.
public enum Calibration {
    /// The temperature in [0.05, 20] that minimizes the mean NLL of `labels` under softmax(logits / T):
    /// golden-section search on log T (the NLL is unimodal in it), to a relative precision of 1e-4.
    /// - Parameter logits: [labels.count * classes], row per example.
    public static func fitTemperature(logits: [Float], labels: [Int], classes: Int) -> Float {
        precondition(logits.count == labels.count * classes && !labels.isEmpty)
        var low = log(0.05), high = log(20.0)
        let ratio = (5.0.squareRoot() - 1) / 2
        var a = high - ratio * (high - low), b = low + ratio * (high - low)
        var fa = negativeLogLikelihood(logits: logits, labels: labels, classes: classes, temperature: exp(a))
        var fb = negativeLogLikelihood(logits: logits, labels: labels, classes: classes, temperature: exp(b))
        while high - low > 1e-4 {
            if fa < fb {
                (high, b, fb) = (b, a, fa)
                a = high - ratio * (high - low)
                fa = negativeLogLikelihood(logits: logits, labels: labels, classes: classes, temperature: exp(a))
            } else {
                (low, a, fa) = (a, b, fb)
                b = low + ratio * (high - low)
                fb = negativeLogLikelihood(logits: logits, labels: labels, classes: classes, temperature: exp(b))
            }
        }
        return Float(exp((low + high) / 2))
    }

    /// Mean negative log-likelihood of `labels` under softmax(logits / temperature), in Double.
    public static func negativeLogLikelihood(logits: [Float], labels: [Int], classes: Int, temperature: Double) -> Double {
        var total = 0.0
        for (i, label) in labels.enumerated() {
            let row = (0..<classes).map { Double(logits[i * classes + $0]) / temperature }
            let top = row.max()!
            let logSum = log(row.reduce(0) { $0 + exp($1 - top) }) + top
            total += logSum - row[label]
        }
        return total / Double(labels.count)
    }
}

extension LoadedModel {
    /// One fitted temperature: for plain inference or flip averaging, with the NLL before and after.
    public struct TemperatureFit: Sendable {
        public let flipAveraging: Bool
        public let temperature: Float
        public let nllBefore: Double, nllAfter: Double
    }

    /// The model with both temperatures (plain, and flip averaging) fitted on `images`, whose labels are
    /// `labels` in the model's class indices; and what was fitted.
    public func calibrated(on images: ImageFolder, labels: [Int]) -> (model: LoadedModel, fits: [TemperatureFit]) {
        var metadata = self.metadata
        let classes = metadata.classNames.count
        let fits = [false, true].map { flip -> TemperatureFit in
            let logits = EmotionClassifier(model: self, flipAveraging: flip).logits(images)
            let temperature = Calibration.fitTemperature(logits: logits, labels: labels, classes: classes)
            if flip { metadata.flipTemperature = temperature } else { metadata.temperature = temperature }
            return TemperatureFit(flipAveraging: flip, temperature: temperature,
                                  nllBefore: Calibration.negativeLogLikelihood(logits: logits, labels: labels, classes: classes, temperature: 1),
                                  nllAfter: Calibration.negativeLogLikelihood(logits: logits, labels: labels, classes: classes,
                                                                              temperature: Double(temperature)))
        }
        return (LoadedModel(stateDict: stateDict, architecture: architecture, metadata: metadata, notes: notes), fits)
    }
}

/// How well confidences match accuracy: expected calibration error over equal-width bins of the top
/// class's confidence, the negative log-likelihood, and a reliability diagram.
public struct ReliabilityReport: Sendable, Equatable {
    /// Per bin: examples, mean confidence, accuracy.
    public struct Bin: Sendable, Equatable {
        public var count = 0
        public var confidence = 0.0
        public var accuracy = 0.0
    }

    public let bins: [Bin]
    /// Sum over bins of (examples in bin / all) * |accuracy - mean confidence|.
    public let expectedCalibrationError: Double
    public let negativeLogLikelihood: Double
    public let count: Int

    /// - Parameters:
    ///   - probabilities: one distribution per example, [labels.count * classes].
    ///   - binCount: 15, the usual choice (Guo et al.).
    public init(probabilities: [Float], labels: [Int], classes: Int, binCount: Int = 15) {
        precondition(probabilities.count == labels.count * classes && binCount > 0)
        var sums = [(count: Int, confidence: Double, correct: Int)](repeating: (0, 0, 0), count: binCount)
        var nll = 0.0
        for (i, label) in labels.enumerated() {
            let row = probabilities[i * classes..<(i + 1) * classes]
            let top = row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }!
            let confidence = Double(row[top])
            let bin = min(binCount - 1, Int(confidence * Double(binCount)))
            sums[bin].count += 1
            sums[bin].confidence += confidence
            sums[bin].correct += top - i * classes == label ? 1 : 0
            nll -= log(max(Double(row[i * classes + label]), 1e-12))
        }
        let total = max(1, labels.count)
        bins = sums.map { sum in
            sum.count == 0 ? Bin() : Bin(count: sum.count, confidence: sum.confidence / Double(sum.count),
                                         accuracy: Double(sum.correct) / Double(sum.count))
        }
        expectedCalibrationError = bins.reduce(0) { $0 + Double($1.count) / Double(total) * abs($1.accuracy - $1.confidence) }
        negativeLogLikelihood = nll / Double(total)
        count = labels.count
    }

    /// The reliability diagram as SVG: accuracy per confidence bin against the diagonal of perfect
    /// calibration, each bar's width its bin, its shade how many examples fell in it.
    public func svg(title: String) -> String {
        let size = 360.0, left = 60.0, top = 50.0, n = Double(bins.count)
        let largest = Double(bins.map(\.count).max() ?? 1)
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(left + size + 30))" height="\(Int(top + size + 60))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left + size / 2)" y="20" text-anchor="middle" font-size="14">\(svgEscaped(title))</text>
            <text x="\(left + size / 2)" y="38" text-anchor="middle">ECE \(String(format: "%.4f", expectedCalibrationError)), NLL \(String(format: "%.4f", negativeLogLikelihood)), \(count) images</text>
            <rect x="\(left)" y="\(top)" width="\(size)" height="\(size)" fill="none" stroke="#333"/>

            """
        for (k, bin) in bins.enumerated() where bin.count > 0 {
            let x = left + size * Double(k) / n, height = size * bin.accuracy
            let shade = Int(230 - 170 * Double(bin.count) / largest)
            out += "<rect x=\"\(x)\" y=\"\(top + size - height)\" width=\"\(size / n)\" height=\"\(height)\" fill=\"rgb(\(shade),\(shade),255)\" stroke=\"#446\"/>\n"
        }
        out += "<line x1=\"\(left)\" y1=\"\(top + size)\" x2=\"\(left + size)\" y2=\"\(top)\" stroke=\"#c33\" stroke-dasharray=\"4 3\"/>\n"
        for tick in stride(from: 0.0, through: 1.0, by: 0.2) {
            let label = String(format: "%.1f", tick)
            out += "<text x=\"\(left + size * tick)\" y=\"\(top + size + 16)\" text-anchor=\"middle\">\(label)</text>\n"
            out += "<text x=\"\(left - 6)\" y=\"\(top + size - size * tick + 4)\" text-anchor=\"end\">\(label)</text>\n"
        }
        out += "<text x=\"\(left + size / 2)\" y=\"\(top + size + 36)\" text-anchor=\"middle\">confidence of the top class</text>\n"
        out += "<text x=\"16\" y=\"\(top + size / 2)\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(top + size / 2))\">accuracy</text>\n"
        return out + "</svg>\n"
    }
}
