import FERVision
import Foundation
import ZIPFoundation

/// The parsers that read files users hand us, one per fuzz target. Each takes arbitrary bytes; a thrown
/// error is the right answer to bad bytes, and only a crash, a hang or runaway memory is a finding.
enum FuzzTarget: String, CaseIterable {
    case safetensors, pickle, cascade, image, video

    /// The target named by `$FER_FUZZ_TARGET` (libFuzzer passes no arguments of ours).
    static var selected: FuzzTarget {
        let name = ProcessInfo.processInfo.environment["FER_FUZZ_TARGET"] ?? ""
        guard let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data("FER_FUZZ_TARGET must be one of \(allCases.map(\.rawValue))\n".utf8))
            exit(2)
        }
        return target
    }

    /// Runs the parser on `data`. Returns what it made of it, for the corpus runner's report.
    @discardableResult
    func run(_ data: Data) -> String {
        do {
            switch self {
            case .safetensors:
                let (tensors, _) = try SafeTensors.decode(data, path: "fuzz.safetensors")
                return "\(tensors.entries.count) tensors"
            case .pickle:
                let (tensors, _) = try PyTorchCheckpoint.read(path: try Self.checkpoint(holding: data))
                return "\(tensors.entries.count) tensors"
            case .cascade:
                let cascade = try Cascade.decode(data, path: "fuzz.xml")
                return "\(cascade.stageCount) stages"
            case .image:
                let image = try ImageDecoder.decode(data, path: "fuzz.image")
                return "\(image.width)x\(image.height)"
            case .video:
                return try Self.decodeVideo(data)
            }
        } catch {
            return "refused: \(error)"
        }
    }

    /// A torch.save-shaped zip whose data.pkl is `pickle`, with four small storages (0...3: the seed's
    /// 8 and 2 floats and 1 int64, and 4 floats) for tensors to point at, stored uncompressed with
    /// correct CRCs: every mutation reaches the unpickler instead of stopping at the zip's checksum.
    private static func checkpoint(holding pickle: Data) throws -> String {
        let archive = try Archive(accessMode: .create)
        let storages = [32, 8, 8, 16].enumerated().map { ("archive/data/\($0.offset)", Data(count: $0.element)) }
        for (path, bytes) in [("archive/data.pkl", pickle), ("archive/version", Data("3\n".utf8))] + storages {
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(bytes.count), compressionMethod: .none) { position, size in
                bytes.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        guard let zip = archive.data else { throw CocoaError(.fileWriteUnknown) }
        try zip.write(to: checkpointURL)
        return checkpointURL.path
    }

    /// Every frame of `data` as a video file (FFmpeg probes the container from the bytes, not the name),
    /// at most 300: a damaged file delivers the frames before its damage and then refuses.
    private static func decodeVideo(_ data: Data) throws -> String {
        try data.write(to: videoURL)
        let source = try VideoFileSource(path: videoURL.path, threads: 1, color: true)
        var frames = 0
        do {
            while frames < 300, try source.nextFrame() != nil { frames += 1 }
        } catch {
            return "\(frames) frames, then refused: \(error)"
        }
        return "\(source.codecName) \(source.width)x\(source.height), \(frames) frames"
    }

    /// One scratch file per process and kind (the readers take a path); /dev/shm keeps them in memory.
    private static let checkpointURL = scratch("pth"), videoURL = scratch("video")

    private static func scratch(_ suffix: String) -> URL {
        let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        return URL(fileURLWithPath: folder).appendingPathComponent("fer-fuzz-\(getpid()).\(suffix)")
    }
}
