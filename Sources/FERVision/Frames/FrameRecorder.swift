import Foundation

/// Records every delivered frame losslessly (PNG) with `timestamps.csv`, so the session replays later
/// exactly as it happened: gray, or in colour when the frame has it (RGB whose gray is exactly the frame's,
/// `ByteImage.rgb(chroma:)`).
public final class FrameRecorder: FrameSink {
    public let directory: String
    private let timestamps: FileHandle
    private var count = 0
    /// Frames' own times on one line across the inputs of a run (each input's clock starts again).
    private var clock = StreamClock()

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
            let frame = result.frame
            let picture = frame.chroma.map { frame.image.grayscale().rgb(chroma: $0) } ?? frame.image
            try ImageEncoder.png(picture).write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
            try timestamps.write(contentsOf: Data("\(name),\(clock.continued(result.frame.timestamp))\n".utf8))
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
