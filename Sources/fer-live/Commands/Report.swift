import ArgumentParser
import FERVision
import Foundation

/// `fer-live report`: a finished run's output, at a glance.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarize a replay or camera output file: each face's emotions over time.",
        discussion: """
            Reads the --output file of `replay` or `camera` (JSON Lines, or CSV for a .csv name) and prints, \
            per face, when it was seen and the share of time it showed each emotion; --summary writes that as \
            JSON (duration_s; per face first_seen_s, last_seen_s, frames, mean_confidence, share_of_time), \
            --timeline draws each face's probabilities over time with a strip of the shown label (SVG). The \
            same as a run's own --summary and --timeline.

            Example: fer-live report interview.jsonl --timeline interview.svg
            """)

    @Argument(help: ArgumentHelp("A results file written by replay or camera (--output).", valueName: "results"))
    var results: String

    @Option(help: ArgumentHelp("Draw each face's emotions over time (SVG) here.", valueName: "file"))
    var timeline: String?

    @Option(help: ArgumentHelp("Write each face's summary (JSON) here.", valueName: "file"))
    var summary: String?

    func run() throws {
        try reportingFailures {
            guard let text = try? String(contentsOfFile: results, encoding: .utf8) else {
                throw CommandFailure("\(results): \(FileManager.default.fileExists(atPath: results) ? "cannot be read" : "no such file")")
            }
            let frames = results.lowercased().hasSuffix(".csv") ? try Self.csvFrames(text, path: results) : try Self.jsonFrames(text, path: results)
            var chart = EmotionTimeline(classNames: frames.classNames)
            for frame in frames.frames { chart.add(timestamp: frame.timestamp, faces: frame.faces) }
            let sink = EmotionTimelineSink(timeline: chart, svgPath: timeline, summaryPath: summary,
                                           title: "Emotions over time: \(URL(fileURLWithPath: results).lastPathComponent)")
            try sink.finish()
            print(chart.text)
        }
    }

    typealias Face = (index: Int, probabilities: [Float], shownIndex: Int)
    typealias Frames = (classNames: [String], frames: [(timestamp: Double, faces: [Face])])

    /// JSON Lines records, grouped by frame (a frame's records are consecutive, as runs write them).
    static func jsonFrames(_ text: String, path: String) throws -> Frames {
        var classNames: [String]?
        var frames: [(number: Int, timestamp: Double, faces: [Face])] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let frame = record["frame"] as? Int, let timestamp = (record["timestamp"] as? NSNumber)?.doubleValue else {
                throw CommandFailure("\(path): line \(number + 1) is not a record of fer-live's output (frame, timestamp, ...)")
            }
            if frames.last?.number != frame { frames.append((frame, timestamp, [])) }
            guard let face = record["face"] as? Int, let probabilities = record["probabilities"] as? [String: Double],
                  let label = record["label"] as? String else { continue }
            let names = classNames ?? Self.classOrder(Array(probabilities.keys))
            classNames = names
            guard Set(probabilities.keys) == Set(names), let shown = names.firstIndex(of: label) else {
                throw CommandFailure("\(path): line \(number + 1) has other classes than the lines before it")
            }
            frames[frames.count - 1].faces.append((face, names.map { Float(probabilities[$0]!) }, shown))
        }
        return (classNames ?? ModelMetadata.fer2013ClassNames, frames.map { ($0.timestamp, $0.faces) })
    }

    /// CSV rows (the header names the classes between `confidence` and `latency_ms`), grouped by frame.
    static func csvFrames(_ text: String, path: String) throws -> Frames {
        let rows = text.split(separator: "\n").map { splitCSV(String($0)) }
        guard let header = rows.first, let confidence = header.firstIndex(of: "confidence"), let latency = header.firstIndex(of: "latency_ms"),
              let frameColumn = header.firstIndex(of: "frame"), let timeColumn = header.firstIndex(of: "timestamp"),
              let faceColumn = header.firstIndex(of: "face"), let labelColumn = header.firstIndex(of: "label"), confidence < latency else {
            throw CommandFailure("\(path): not a CSV file of fer-live's output (no frame, timestamp, face, label, confidence, latency_ms header)")
        }
        let names = Array(header[(confidence + 1)..<latency])
        var frames: [(number: Int, timestamp: Double, faces: [Face])] = []
        for (number, row) in rows.enumerated().dropFirst() {
            guard row.count == header.count, let frame = Int(row[frameColumn]), let timestamp = Double(row[timeColumn]) else {
                throw CommandFailure("\(path): line \(number + 1) does not match the header")
            }
            if frames.last?.number != frame { frames.append((frame, timestamp, [])) }
            guard let face = Int(row[faceColumn]), let shown = names.firstIndex(of: row[labelColumn]) else { continue }
            let probabilities = row[(confidence + 1)..<latency].compactMap(Float.init)
            guard probabilities.count == names.count else { throw CommandFailure("\(path): line \(number + 1) has a probability that is not a number") }
            frames[frames.count - 1].faces.append((face, probabilities, shown))
        }
        return (names, frames.map { ($0.timestamp, $0.faces) })
    }

    /// FER2013's order when the classes are FER2013's, else alphabetical (JSON objects keep no order).
    private static func classOrder(_ names: [String]) -> [String] {
        Set(names) == Set(ModelMetadata.fer2013ClassNames) ? ModelMetadata.fer2013ClassNames : names.sorted()
    }

    /// One CSV line's fields; quoted fields may hold commas and doubled quotes (as ResultWriter writes).
    private static func splitCSV(_ line: String) -> [String] {
        var fields: [String] = [], field = "", quoted = false, closedQuote = false
        for c in line {
            if quoted {
                if c == "\"" { quoted = false } else { field.append(c) }
            } else if c == "\"" {
                if closedQuote { field.append("\"") }   // a doubled quote inside a quoted field
                quoted = true
            } else if c == "," {
                fields.append(field)
                field = ""
            } else {
                field.append(c)
            }
            closedQuote = c == "\"" && !quoted
        }
        fields.append(field)
        return fields
    }
}
