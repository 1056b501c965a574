import Foundation

/// Writes one record per delivered frame, as JSON Lines or CSV (chosen by the file's extension). Each
/// record goes out in one write, so the file holds only whole lines whenever the run stops.
public final class ResultWriter: FrameSink {
    public enum Format: Sendable { case jsonLines, csv }

    public let path: String
    public let format: Format
    private let handle: FileHandle
    private var wroteHeader = false

    /// Creates (or truncates) the file now, so an unwritable path fails before any work.
    public init(path: String) throws(DatasetError) {
        self.path = path
        format = path.lowercased().hasSuffix(".csv") ? .csv : .jsonLines
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw DatasetError(path: path, "cannot be written")
        }
        self.handle = handle
    }

    public func deliver(_ result: FrameResult) throws {
        var text = ""
        if format == .csv, !wroteHeader {
            text = (["frame", "file", "timestamp", "box_x", "box_y", "box_w", "box_h", "label", "confidence"]
                    + result.prediction.classNames + ["latency_ms"]).joined(separator: ",") + "\n"
            wroteHeader = true
        }
        text += line(for: result) + "\n"
        do { try handle.write(contentsOf: Data(text.utf8)) } catch {
            throw DatasetError(path: path, "write failed (\((error as NSError).localizedDescription)); the lines before are intact")
        }
    }

    public func finish() throws {
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw DatasetError(path: path, "cannot be flushed (\((error as NSError).localizedDescription))")
        }
    }

    func line(for result: FrameResult) -> String {
        let p = result.prediction, box = result.box
        let latency = (result.times.delivered - result.times.captured) * 1000
        switch format {
        case .jsonLines:
            return JSONValue.object([
                ("frame", .integer(result.frame.sequence)),
                ("file", .string(result.frame.sourceName)),
                ("timestamp", .number(result.frame.timestamp)),
                ("box", .array([box.x, box.y, box.width, box.height].map { .integer($0) })),
                ("label", .string(p.label)),
                ("confidence", .float(p.confidence)),
                ("probabilities", .object(zip(p.classNames, p.probabilities).map { ($0, .float($1)) })),
                ("latency_ms", .number((latency * 1000).rounded() / 1000)),
            ]).serialized
        case .csv:
            let file = result.frame.sourceName.contains(",") || result.frame.sourceName.contains("\"")
                ? "\"" + result.frame.sourceName.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : result.frame.sourceName
            return ([String(result.frame.sequence), file, "\(result.frame.timestamp)", String(box.x), String(box.y),
                     String(box.width), String(box.height), p.label, "\(p.confidence)"]
                    + p.probabilities.map { "\($0)" } + [String(format: "%.3f", latency)]).joined(separator: ",")
        }
    }
}

/// Records every delivered frame losslessly (PNG) with `timestamps.csv`, so the session replays later
/// exactly as it happened.
public final class FrameRecorder: FrameSink {
    public let directory: String
    private let timestamps: FileHandle
    private var count = 0

    public init(directory: String) throws(DatasetError) {
        self.directory = directory
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw DatasetError(path: directory, "cannot be created")
        }
        let path = "\(directory)/\(FrameDirectorySource.timestampsFile)"
        guard FileManager.default.createFile(atPath: path, contents: Data("file,timestamp_s\n".utf8)),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw DatasetError(path: path, "cannot be written")
        }
        handle.seekToEndOfFile()
        timestamps = handle
    }

    public func deliver(_ result: FrameResult) throws {
        let name = String(format: "frame%06d.png", count)
        do {
            try ImageEncoder.png(result.frame.image).write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
            try timestamps.write(contentsOf: Data("\(name),\(result.frame.timestamp)\n".utf8))
        } catch {
            throw DatasetError(path: "\(directory)/\(name)", "cannot record the frame (\(error))")
        }
        count += 1
    }

    public func finish() throws {
        try? timestamps.synchronize()
        try? timestamps.close()
    }
}
