/// Keeps each face's label steady over a stream: flicker is the first thing people notice on a live face.
///
/// Two mechanisms, each measured on real clips (benchmarks/real_clips.py, BENCHMARKS.md "Steady labels"):
/// - an exponential moving average of the (calibrated) probabilities, `alpha` the newest frame's weight;
/// - hysteresis on the shown label: it changes only when another class's averaged probability beats the
///   shown class's by more than `margin`.
/// Each face index has its own state; a face unseen for a while starts afresh when it returns.
///
/// Also counts how often the shown label changes, for the run's summary.
///
/// Not thread-safe: the pipeline calls it from its sink queue only.
public final class LabelSmoother {
    /// Weight of the newest frame (1: no averaging).
    public let alpha: Float
    /// How far another class must lead the shown one to take its place (0: the top class is shown).
    public let margin: Float
    private var state: [Int: (probabilities: [Float], shown: Int, frame: Int)] = [:]
    private var frame = 0
    /// Changes of a face's shown label, all faces together.
    public private(set) var switches = 0

    /// A face unseen for this many frames starts afresh.
    static let forgetAfter = 30

    public init(alpha: Float = 1, margin: Float = 0) {
        precondition(alpha > 0 && alpha <= 1 && margin >= 0, "alpha in (0, 1], margin >= 0")
        self.alpha = alpha
        self.margin = margin
    }

    /// Marks the start of the next frame (faces of one frame are smoothed between two calls).
    public func nextFrame() { frame += 1 }

    /// The steady version of face `face`'s prediction in this frame.
    public func smooth(_ prediction: EmotionPrediction, face: Int) -> EmotionPrediction {
        guard let last = state[face], frame - last.frame <= Self.forgetAfter else {
            state[face] = (prediction.probabilities, prediction.topIndex, frame)
            return prediction
        }
        let averaged = zip(last.probabilities, prediction.probabilities).map { alpha * $1 + (1 - alpha) * $0 }
        let candidate = EmotionPrediction(classNames: prediction.classNames, probabilities: averaged).topIndex
        var shown = last.shown
        if candidate != shown, averaged[candidate] - averaged[shown] > margin {
            shown = candidate
            switches += 1
        }
        state[face] = (averaged, shown, frame)
        return EmotionPrediction(classNames: prediction.classNames, probabilities: averaged, shownIndex: shown)
    }
}
