import Foundation

/// A recording at a glance: for each tracked face, its (calibrated, smoothed) probabilities and shown
/// label over time, as a summary (share of time per emotion, mean confidence, first and last seen) and a
/// chart (SVG). Built from a run's delivered frames (`EmotionTimelineSink`) or from its JSON Lines output
/// (`fer-live report`), the same either way.
public struct EmotionTimeline: Sendable {
    /// One face in one frame.
    public struct Sample: Sendable, Equatable {
        /// Seconds of stream since the first frame (inputs played in a row add up).
        public var time: Double
        public var probabilities: [Float]
        public var shownIndex: Int
    }

    /// One face over the run, in constant memory however long it stays: running totals for the summary,
    /// and its chart's samples, thinned (every other dropped, then only every `chartStride`-th kept)
    /// whenever they reach `maximumChartSamples`.
    public struct FaceTrack: Sendable {
        public fileprivate(set) var firstSeen: Double, lastSeen: Double
        public fileprivate(set) var frames = 0
        fileprivate var confidenceSum = 0.0
        /// Seconds shown as each emotion: each sample counts until the face's next one.
        fileprivate var shownSeconds: [Double]
        fileprivate var last: Sample
        /// The latest gaps between samples (at most `recentGaps`), whose median the last sample counts for.
        fileprivate var gaps: [Double] = []
        public fileprivate(set) var chart: [Sample] = []
        public fileprivate(set) var chartStride = 1

        fileprivate init(first sample: Sample, classes: Int) {
            firstSeen = sample.time
            lastSeen = sample.time
            shownSeconds = [Double](repeating: 0, count: classes)
            last = sample
        }

        fileprivate mutating func add(_ sample: Sample) {
            if frames > 0 {
                let gap = sample.time - last.time
                shownSeconds[last.shownIndex] += gap
                gaps.append(gap)
                if gaps.count > EmotionTimeline.recentGaps { gaps.removeFirst(gaps.count - EmotionTimeline.recentGaps) }
            }
            confidenceSum += Double(sample.probabilities[sample.shownIndex])
            if frames % chartStride == 0 {
                chart.append(sample)
                if chart.count >= EmotionTimeline.maximumChartSamples {
                    chart = stride(from: 0, to: chart.count, by: 2).map { chart[$0] }
                    chartStride *= 2
                }
            }
            frames += 1
            last = sample
            lastSeen = sample.time
        }
    }

    /// Chart samples kept per face, at most.
    public static let maximumChartSamples = 1024
    /// Gaps kept per face for the typical gap the last sample counts for.
    static let recentGaps = 255

    public let classNames: [String]
    /// Each face's track, by face index.
    public private(set) var faces: [Int: FaceTrack] = [:]
    /// Seconds of stream covered.
    public var duration: Double { clock.now }
    private var clock = StreamClock()

    public init(classNames: [String]) { self.classNames = classNames }

    /// Adds a frame's faces. `timestamp` is the frame's own time; a timestamp that goes back starts the next
    /// input of a sequence, whose time continues the stream's.
    public mutating func add(timestamp: Double, faces frameFaces: [(index: Int, probabilities: [Float], shownIndex: Int)]) {
        let time = clock.advance(to: timestamp)
        for face in frameFaces {
            let sample = Sample(time: time, probabilities: face.probabilities, shownIndex: face.shownIndex)
            faces[face.index, default: FaceTrack(first: sample, classes: classNames.count)].add(sample)
        }
    }

    /// One face's time in view.
    public struct FaceSummary: Sendable, Equatable {
        public let index: Int
        /// Seconds of stream when it was first and last seen.
        public let firstSeen: Double, lastSeen: Double
        public let frames: Int
        /// Mean probability of the shown label.
        public let meanConfidence: Double
        /// Share of its time shown as each emotion (summing to 1).
        public let shares: [Double]
    }

    /// Per face: each sample counts until the face's next one (the last for the median of its recent gaps).
    public var faceSummaries: [FaceSummary] {
        faces.keys.sorted().map { index in
            let face = faces[index]!
            var shares = face.shownSeconds
            shares[face.last.shownIndex] += face.gaps.sorted().dropFirst(face.gaps.count / 2).first ?? 0
            let total = shares.reduce(0, +)
            return FaceSummary(index: index, firstSeen: face.firstSeen, lastSeen: face.lastSeen, frames: face.frames,
                               meanConfidence: face.confidenceSum / Double(face.frames),
                               shares: total > 0 ? shares.map { $0 / total } : shares.indices.map { $0 == face.last.shownIndex ? 1 : 0 })
        }
    }

    /// The summary as JSON: duration_s, and per face first_seen_s, last_seen_s, frames, mean_confidence and
    /// share_of_time (emotion -> share).
    public var summary: JSONValue {
        .object([("duration_s", .number(duration)), ("faces", .array(faceSummaries.map { face in
            .object([("face", .integer(face.index)), ("first_seen_s", .number(face.firstSeen)), ("last_seen_s", .number(face.lastSeen)),
                     ("frames", .integer(face.frames)), ("mean_confidence", .number(face.meanConfidence)),
                     ("share_of_time", .object(zip(classNames, face.shares).map { ($0, .number($1)) }))])
        }))])
    }

    /// Faces seen in fewer frames (a passing false detection, mostly) are counted, not charted or listed.
    public static let briefFrames = 5

    /// The summary as lines for the end of a run: per face, when it was seen and its most shown emotions.
    public var text: String {
        let all = faceSummaries, faces = all.filter { $0.frames >= Self.briefFrames }
        guard !all.isEmpty else { return "no face was found" }
        let brief = all.count - faces.count
        return (faces.map { face in
            let top = zip(classNames, face.shares).filter { $0.1 > 0 }.sorted { $0.1 > $1.1 }.prefix(3)
            return String(format: "face %d: %.1f-%.1f s, %@ (mean confidence %.2f)", face.index, face.firstSeen, face.lastSeen,
                          top.map { String(format: "%@ %.0f%%", $0.0, $0.1 * 100) }.joined(separator: ", "), face.meanConfidence)
        } + (brief > 0 ? ["\(brief) face\(brief == 1 ? "" : "s") seen in fewer than \(Self.briefFrames) frames"] : []))
            .joined(separator: "\n")
    }

    /// The colors the chart gives the emotions (FER2013's seven; others cycle).
    static let palette = ["#d62728", "#8c564b", "#9467bd", "#f2b701", "#1f77b4", "#17becf", "#7f7f7f"]

    /// One panel per face: a line per emotion (probability 0-1 against seconds) above a strip of the
    /// shown label, and a legend.
    public func svg(title: String) -> String {
        let indices = faces.keys.sorted().filter { faces[$0]!.frames >= Self.briefFrames }
        let width = 900.0, left = 60.0, right = 150.0, plotWidth = width - left - right
        let panel = 170.0, strip = 14.0, top = 40.0
        let height = top + Double(max(1, indices.count)) * (panel + strip + 40) + 20
        let span = max(duration, 1e-9)
        func x(_ t: Double) -> Double { left + t / span * plotWidth }
        func color(_ k: Int) -> String { Self.palette[k % Self.palette.count] }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(svgEscaped(title))</text>

            """
        if indices.isEmpty {
            out += "<text x=\"\(width / 2)\" y=\"\(top + 40)\" text-anchor=\"middle\">no face was found</text>\n"
        }
        for (row, index) in indices.enumerated() {
            let samples = faces[index]!.chart
            // A gap longer than a second (the face out of view) breaks the line; a thinned chart's samples
            // are `chartStride` frames apart, so its gaps may be as many seconds.
            let breakGap = Double(faces[index]!.chartStride)
            let y0 = top + Double(row) * (panel + strip + 40)
            out += "<text x=\"\(left)\" y=\"\(y0 + 12)\" font-weight=\"bold\">face \(index)</text>\n"
            let plotTop = y0 + 20
            out += "<rect x=\"\(left)\" y=\"\(plotTop)\" width=\"\(plotWidth)\" height=\"\(panel - 20)\" fill=\"none\" stroke=\"#999\"/>\n"
            for tick in [0.0, 0.5, 1.0] {
                let y = plotTop + (panel - 20) * (1 - tick)
                out += "<text x=\"\(left - 6)\" y=\"\(y + 4)\" text-anchor=\"end\">\(tick)</text>\n"
            }
            for k in classNames.indices {
                var path = "", previous: Double?
                for sample in samples {
                    let command = previous.map { sample.time - $0 > breakGap } ?? true ? "M" : "L"
                    path += String(format: "%@%.1f %.1f ", command, x(sample.time), plotTop + (panel - 20) * (1 - Double(sample.probabilities[k])))
                    previous = sample.time
                }
                out += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(color(k))\" stroke-width=\"1.5\"/>\n"
            }
            let stripTop = y0 + panel + 4
            for (k, sample) in samples.enumerated() {
                let end = k + 1 < samples.count && samples[k + 1].time - sample.time <= breakGap ? samples[k + 1].time : sample.time + span / 500
                out += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.0f\" fill=\"%@\"/>\n",
                              x(sample.time), stripTop, max(0.5, x(end) - x(sample.time)), strip, color(sample.shownIndex))
            }
            out += "<text x=\"\(left - 6)\" y=\"\(stripTop + 11)\" text-anchor=\"end\">label</text>\n"
            for tick in stride(from: 0.0, through: span, by: niceStep(span)) {
                out += "<text x=\"\(x(tick))\" y=\"\(stripTop + strip + 14)\" text-anchor=\"middle\">\(String(format: "%g", tick))</text>\n"
            }
        }
        for (k, name) in classNames.enumerated() {
            let y = top + 30 + Double(k) * 18
            out += "<rect x=\"\(width - right + 20)\" y=\"\(y - 9)\" width=\"14\" height=\"10\" fill=\"\(color(k))\"/>\n"
            out += "<text x=\"\(width - right + 40)\" y=\"\(y)\">\(svgEscaped(name))</text>\n"
        }
        out += "<text x=\"\(left + plotWidth / 2)\" y=\"\(height - 6)\" text-anchor=\"middle\">seconds</text>\n"
        return out + "</svg>\n"
    }

    /// A tick spacing giving about 5 to 10 ticks over `span` seconds.
    private func niceStep(_ span: Double) -> Double {
        let raw = max(span / 8, 1e-3), magnitude = pow(10, floor(log10(raw)))
        for factor in [1.0, 2.0, 5.0, 10.0] where raw <= factor * magnitude { return factor * magnitude }
        return 10 * magnitude
    }
}

/// Collects a run's delivered frames into an `EmotionTimeline` and writes it at the end: the chart
/// (`--timeline`) and the summary (`--summary`), each written whole (temporary file, renamed).
public final class EmotionTimelineSink: FrameSink {
    public private(set) var timeline: EmotionTimeline
    private let svgPath: String?, summaryPath: String?, title: String

    public convenience init(classNames: [String], svgPath: String?, summaryPath: String?, title: String) {
        self.init(timeline: EmotionTimeline(classNames: classNames), svgPath: svgPath, summaryPath: summaryPath, title: title)
    }

    /// Writes an existing timeline (and goes on collecting into it).
    public init(timeline: EmotionTimeline, svgPath: String?, summaryPath: String?, title: String) {
        self.timeline = timeline
        self.svgPath = svgPath
        self.summaryPath = summaryPath
        self.title = title
    }

    public func deliver(_ result: FrameResult) throws {
        timeline.add(timestamp: result.frame.timestamp, faces: result.faces.map {
            ($0.index, $0.prediction.probabilities, $0.prediction.shownIndex)
        })
    }

    public func finish() throws {
        // The chart is drawn only when asked for.
        let outputs: [(String?, () -> String)] = [(svgPath, { self.timeline.svg(title: self.title) }),
                                                  (summaryPath, { self.timeline.summary.serialized + "\n" })]
        for (path, render) in outputs {
            guard let path else { continue }
            let text = render()
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw DatasetError(path: path, "cannot be written (\((error as NSError).localizedDescription))")
            }
        }
    }
}
