import Foundation

/// A recorded frame directory replayed like a live stream: PNG, JPEG and PGM/PPM files in natural order
/// (frame2 before frame10), with the recorded capture times from `timestamps.csv` when it is there. Colour
/// images are delivered as their gray (`ByteImage.grayscale()`), with their colour when asked for.
public final class FrameDirectorySource: FrameSource {
    /// The directory's frame files, in playback order.
    public let files: [String]
    /// Recorded capture time of each file, from timestamps.csv; nil when not recorded.
    public let recordedTimestamps: [StreamTime]?
    /// Play the directory again from the start at its end.
    public let loops: Bool
    /// Assumed frame interval when nothing was recorded (1 / fps), for frame timestamps.
    public let frameInterval: StreamTime
    /// Whether frames of colour images carry their colour (`Frame.chroma`) besides the gray.
    public let color: Bool

    public let name: String
    public private(set) var skipped = SkippedFrames()
    private let directory: String
    private var position = 0, sequence = 0, loopOffset = StreamTime.zero

    /// File name of the capture times a recording writes beside its frames.
    public static let timestampsFile = "timestamps.csv"

    /// Lists `directory`. Throws when it is missing, unreadable or holds no frame files, or when
    /// timestamps.csv is present but malformed. `color` keeps colour images' colour (for a window or a
    /// recording); frames are gray to the pipeline either way.
    public init(directory: String, loops: Bool = false, fps: Double = 30, color: Bool = false) throws(DatasetError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(path: directory, "no such directory")
        }
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
            throw DatasetError(path: directory, "cannot be listed")
        }
        files = names.filter { ImageDecoder.fileExtensions.contains(($0 as NSString).pathExtension.lowercased()) && !$0.hasPrefix(".") }
            .sorted(by: naturallyOrdered)
        guard !files.isEmpty else { throw DatasetError(path: directory, "holds no frames (PNG, JPEG, PGM or PPM files)") }
        self.directory = directory
        self.loops = loops
        self.color = color
        frameInterval = .frameInterval(framesPerSecond: fps)
        name = directory
        recordedTimestamps = try Self.readTimestamps(in: directory, files: files)
    }

    /// timestamps.csv: a header, then `file,timestamp_s` rows (extra columns ignored). Every listed frame
    /// must have a row; rows for files that are gone are ignored. A time that is not a stream time (not
    /// finite, or beyond +-10^12 s) is refused naming its line.
    static func readTimestamps(in directory: String, files: [String]) throws(DatasetError) -> [StreamTime]? {
        let path = "\(directory)/\(timestampsFile)"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw DatasetError(path: path, "cannot be read") }
        var byFile: [String: StreamTime] = [:]
        for (number, line) in text.split(whereSeparator: \.isNewline).enumerated().dropFirst() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count >= 2, let seconds = Double(fields[1].trimmingCharacters(in: .whitespaces)) else {
                throw DatasetError(path: path, "line \(number + 1) is not 'file,timestamp_s'")
            }
            guard let time = StreamTime(seconds: seconds) else {
                throw DatasetError(path: path, "line \(number + 1): \(StreamTime.refusal(seconds) ?? "not a stream time")")
            }
            byFile[String(fields[0])] = time
        }
        return try files.map { file throws(DatasetError) in
            guard let seconds = byFile[file] else { throw DatasetError(path: path, "has no timestamp for \(file)") }
            return seconds
        }
    }

    public func nextFrame() throws -> Frame? {
        while true {
            if position == files.count {
                guard loops else { return nil }
                // The next pass continues the clock one interval after the last frame.
                loopOffset = loopOffset + duration + frameInterval
                position = 0
            }
            let file = files[position]
            let timestamp = loopOffset + (recordedTimestamps.map { $0[position] - $0[0] }
                ?? StreamTime(microseconds: Int64(position) * frameInterval.microseconds) ?? .zero)
            position += 1
            do {
                let image = try ImageDecoder.decode(contentsOf: "\(directory)/\(file)")
                defer { sequence += 1 }
                return Frame(sequence: sequence, timestamp: timestamp.seconds, image: image.grayscale(),
                             chroma: color && image.channels == 3 ? ChromaPlanes(rgb: image) : nil, sourceName: file)
            } catch {
                skipped.append(error)
                if skipped.count >= files.count, sequence == 0 { return nil }   // nothing in it can be read
            }
        }
    }

    /// Time from the first to the last frame of one pass.
    private var duration: StreamTime {
        if let recorded = recordedTimestamps { return recorded[recorded.count - 1] - recorded[0] }
        return StreamTime(microseconds: Int64(files.count - 1) * frameInterval.microseconds) ?? .zero
    }
}
