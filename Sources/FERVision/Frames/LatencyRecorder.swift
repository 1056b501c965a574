import Foundation
import Histogram

/// When one frame passed each point of the pipeline, in seconds on the monotonic clock.
public struct FrameTimes: Sendable, Equatable {
    /// The source's capture time mapped to the pipeline clock (replay: when the frame was due).
    public var captured: Double
    /// Handed to the pipeline (camera buffer copied out, file decoded).
    public var dequeued: Double = 0
    /// The faces were found (center crop: at once).
    public var located: Double = 0
    public var preprocessed: Double = 0
    public var inferred: Double = 0
    /// Written to every sink.
    public var delivered: Double = 0
    /// On screen (the window presented it); nil without a window.
    public var presented: Double?

    public init(captured: Double) { self.captured = captured }

    /// The stage names and their durations, in pipeline order, then end to end.
    public var stages: [(name: String, seconds: Double)] {
        var stages = [("capture", dequeued - captured), ("detect", located - dequeued), ("preprocess", preprocessed - located),
                      ("inference", inferred - preprocessed),
                      ("deliver", delivered - inferred)]
        if let presented { stages.append(("render", presented - delivered)) }
        return stages + [(LatencyRecorder.endToEnd, endToEnd)]
    }

    /// When the frame's journey ended: on screen, or written to the sinks when there is no window.
    public var finished: Double { presented ?? delivered }

    /// Seconds from capture to the journey's end.
    public var endToEnd: Double { finished - captured }
}

/// Per-stage and end-to-end latency histograms (HdrHistogram, microsecond resolution), frame rate and drops.
///
/// Thread safety: call from one queue (the pipeline's sink queue).
public final class LatencyRecorder {
    public static let endToEnd = "end_to_end"
    /// Every stage; "render" (delivered to on screen) only has frames when a window shows them.
    public static let stageNames = ["capture", "detect", "preprocess", "inference", "deliver", "render", endToEnd]

    private var histograms: [String: Histogram<UInt64>] = [:]
    /// (pipeline time finished, end-to-end seconds) of every `timelineStride`-th frame, for the latency plot.
    public private(set) var timeline: [(time: Double, latency: Double)] = []
    /// The timeline keeps every this-many frames: it starts at 1 and doubles whenever the timeline reaches
    /// `maximumTimelinePoints` (every other point is then dropped), so a day-long run holds no more than a
    /// minute's worth. The histograms hold every frame.
    public private(set) var timelineStride = 1
    public static let maximumTimelinePoints = 4096
    public private(set) var frames = 0
    public var dropped = 0
    /// Changes of a face's shown label over the run (all faces), set by the pipeline.
    public var labelSwitches = 0
    private var first: Double?, last: Double = 0
    private var clock = StreamClock()
    /// The slowest frame end to end so far: its number in the stream and its times.
    public private(set) var worst: (frame: Int, times: FrameTimes)?

    public init() {
        for name in Self.stageNames {
            histograms[name] = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
        }
    }

    /// Notes a delivered frame's own timestamp, so switches count per minute of the stream itself.
    public func noteStreamTime(_ timestamp: Double) { clock.advance(to: timestamp) }

    /// Seconds of stream covered by the delivered frames.
    public var streamSeconds: Double { clock.now }

    /// Label switches per minute of stream (0 for a stream shorter than a frame).
    public var switchesPerMinute: Double { streamSeconds > 0 ? Double(labelSwitches) / streamSeconds * 60 : 0 }

    /// Records one delivered frame's times; `frame` is its number in the stream (`Frame.sequence`).
    public func record(_ times: FrameTimes, frame: Int) {
        if times.endToEnd > worst?.times.endToEnd ?? -.infinity {
            worst = (frame, times)
        }
        for (name, seconds) in times.stages {
            _ = histograms[name]!.record(UInt64(max(0, seconds) * 1e6))
        }
        frames += 1
        if first == nil { first = times.finished }
        last = times.finished
        if (frames - 1) % timelineStride == 0 {
            timeline.append((times.finished, times.endToEnd))
            if timeline.count >= Self.maximumTimelinePoints {
                timeline = stride(from: 0, to: timeline.count, by: 2).map { timeline[$0] }
                timelineStride *= 2
            }
        }
    }

    /// Delivered frames per second over the run.
    public var framesPerSecond: Double {
        guard let first, frames > 1, last > first else { return 0 }
        return Double(frames - 1) / (last - first)
    }

    /// Percentiles of one stage in milliseconds.
    public func summary(of stage: String) -> (count: Int, p50: Double, p90: Double, p99: Double, max: Double) {
        let histogram = histograms[stage]!
        func ms(_ p: Double) -> Double { Double(histogram.valueAtPercentile(p)) / 1000 }
        return (Int(histogram.totalCount), ms(50), ms(90), ms(99), Double(histogram.max) / 1000)
    }

    /// The latency report: one object per stage and `end_to_end`, plus fps and dropped frames.
    public var report: JSONValue {
        var fields: [(String, JSONValue)] = Self.stageNames.map { name in
            let s = summary(of: name)
            return (name, .object([("count", .integer(s.count)), ("p50_ms", .number(s.p50)), ("p90_ms", .number(s.p90)),
                                   ("p99_ms", .number(s.p99)), ("max_ms", .number(s.max))]))
        }
        if let worst, let stage = Self.slowestStage(of: worst.times) {
            fields.append(("worst", .object([("frame", .integer(worst.frame)),
                                             ("end_to_end_ms", .number(worst.times.endToEnd * 1000)),
                                             ("stage", .string(stage.name)), ("stage_ms", .number(stage.seconds * 1000))])))
        }
        fields += [("frames", .integer(frames)), ("fps", .number(framesPerSecond)), ("dropped", .integer(dropped)),
                   ("label_switches", .integer(labelSwitches)), ("switches_per_minute", .number(switchesPerMinute))]
        return .object(fields)
    }

    /// The stage a frame spent longest in (end to end left out).
    static func slowestStage(of times: FrameTimes) -> (name: String, seconds: Double)? {
        times.stages.filter { $0.name != endToEnd }.max { $0.seconds < $1.seconds }
    }

    /// The report as a table for the end-of-run summary.
    public var table: String {
        var lines = ["stage         count     p50 ms    p90 ms    p99 ms    max ms"]
        for name in Self.stageNames {
            let s = summary(of: name)
            if name == "render", s.count == 0 { continue }
            let label = name.padding(toLength: 12, withPad: " ", startingAt: 0)
            lines.append(label + String(format: " %6d %9.2f %9.2f %9.2f %9.2f", s.count, s.p50, s.p90, s.p99, s.max))
        }
        if let worst, let stage = Self.slowestStage(of: worst.times) {
            lines.append(String(format: "worst: frame %d, %.2f ms end to end, %.2f ms of it in %@", worst.frame,
                                worst.times.endToEnd * 1000, stage.seconds * 1000, stage.name))
        }
        lines.append(String(format: "%d frames, %.1f fps, %d dropped; labels changed %d times, %.1f per minute", frames, framesPerSecond,
                            dropped, labelSwitches, switchesPerMinute))
        return lines.joined(separator: "\n")
    }
}

extension LatencyRecorder {
    /// End-to-end latency per frame over time, above a histogram of the same latencies, as one SVG.
    public var plotSVG: String {
        let start = timeline.first?.time ?? 0
        let overTime = LinePlot(title: "End-to-end latency per frame", xLabel: "time (s)", yLabel: "latency (ms)",
                                series: [("latency", timeline.map { $0.time - start }, timeline.map { $0.latency * 1000 }, "#1f77b4")])
        let latencies = timeline.map { $0.latency * 1000 }
        let top = max(1, (latencies.max() ?? 1) * 1.0001), bins = 40
        var counts = [Double](repeating: 0, count: bins)
        // Each kept point stands for `timelineStride` frames.
        for value in latencies { counts[min(bins - 1, Int(value / top * Double(bins)))] += Double(timelineStride) }
        // Steps: each bin drawn as a flat segment across its width.
        var xs: [Double] = [], ys: [Double] = []
        for (i, count) in counts.enumerated() {
            xs += [Double(i) / Double(bins) * top, Double(i + 1) / Double(bins) * top]
            ys += [count, count]
        }
        let histogram = LinePlot(title: "Histogram of end-to-end latency", xLabel: "latency (ms)", yLabel: "frames",
                                 series: [("frames", xs, ys, "#d62728")])
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="640" height="800">
            <svg y="0" width="640" height="400" font-family="sans-serif" font-size="12">\(overTime.svg.drop { $0 != ">" }.dropFirst())
            <svg y="400" width="640" height="400" font-family="sans-serif" font-size="12">\(histogram.svg.drop { $0 != ">" }.dropFirst())
            </svg>

            """
    }
}
