import Foundation

/// Writes one record per face of every delivered frame (a frame without a face gets one record that
/// says so, with empty label and box), as JSON Lines or CSV (chosen by the file's extension). Each
/// frame's records go out in one write, so the file holds only whole lines whenever the run stops.
public final class ResultWriter: FrameSink {
    public enum Format: Sendable { case jsonLines, csv }

    public let path: String
    public let format: Format
    private let handle: FileHandle
    private let classNames: [String]
    private let includesLatency: Bool

    /// Creates (or truncates) the file now, so an unwritable path fails before any work; a CSV file
    /// gets its header (one probability column per class) at once. Without `includesLatency` the
    /// records leave out latency_ms, the one field that differs between two runs over the same frames.
    public init(path: String, classNames: [String], includesLatency: Bool = true) throws(DatasetError) {
        self.path = path
        self.classNames = classNames
        self.includesLatency = includesLatency
        format = path.lowercased().hasSuffix(".csv") ? .csv : .jsonLines
        let header = (["frame", "file", "timestamp", "faces", "face", "box_x", "box_y", "box_w", "box_h", "label", "confidence"]
                      + classNames + (includesLatency ? ["latency_ms"] : [])).joined(separator: ",") + "\n"
        guard FileManager.default.createFile(atPath: path, contents: format == .csv ? Data(header.utf8) : nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw DatasetError(path: path, "cannot be written")
        }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    public func deliver(_ result: FrameResult) throws {
        let text = lines(for: result).map { $0 + "\n" }.joined()
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

    /// The frame's records: one per face, or one with no face.
    func lines(for result: FrameResult) -> [String] {
        let latency = ((result.times.delivered - result.times.captured) * 1e6).rounded() / 1000
        let faces: [FaceResult?] = result.faces.isEmpty ? [nil] : result.faces
        return faces.map { face in
            switch format {
            case .jsonLines:
                var fields: [(String, JSONValue)] = [("frame", .integer(result.frame.sequence)), ("file", .string(result.frame.sourceName)),
                                                     ("timestamp", .number(result.frame.timestamp)), ("faces", .integer(result.faces.count))]
                if let face {
                    let p = face.prediction, box = face.box
                    fields += [("face", .integer(face.index)), ("box", .array([box.x, box.y, box.width, box.height].map { .integer($0) })),
                               ("label", .string(p.label)), ("confidence", .float(p.confidence)),
                               ("probabilities", .object(zip(p.classNames, p.probabilities).map { ($0, .float($1)) }))]
                } else {
                    fields += [("face", .null), ("box", .null), ("label", .null), ("confidence", .null), ("probabilities", .null)]
                }
                return JSONValue.object(fields + (includesLatency ? [("latency_ms", .number(latency))] : [])).serialized
            case .csv:
                let name = result.frame.sourceName
                let file = name.contains(",") || name.contains("\"") ? "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : name
                var fields = [String(result.frame.sequence), file, "\(result.frame.timestamp)", String(result.faces.count)]
                if let face {
                    let p = face.prediction, box = face.box
                    fields += [String(face.index), String(box.x), String(box.y), String(box.width), String(box.height), p.label, "\(p.confidence)"]
                        + p.probabilities.map { "\($0)" }
                } else {
                    fields += Array(repeating: "", count: 7 + classNames.count)
                }
                return (fields + (includesLatency ? [String(format: "%.3f", latency)] : [])).joined(separator: ",")
            }
        }
    }
}
