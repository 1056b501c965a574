import FERVision
import Foundation

/// What tells whether an input changed since its results were made: size and modification time (cheap,
/// read on every run), and the SHA-256 of its contents (read only when those differ, as rsync and make
/// trust a file whose size and time are unchanged). A frame directory counts all its files.
struct InputFingerprint: Equatable {
    /// Bytes in the file, or in all of a frame directory's files.
    let size: Int64
    /// Modification time in nanoseconds since 1970: the file's, or the newest of the directory and its files.
    let modified: Int64

    /// The fingerprint of a video file or a frame directory; nil when it cannot be read.
    static func of(_ path: String) -> InputFingerprint? {
        guard let own = status(of: path) else { return nil }
        guard own.isDirectory else { return InputFingerprint(size: own.size, modified: own.modified) }
        var size: Int64 = 0, modified = own.modified
        for file in files(in: path) {
            guard let entry = status(of: (path as NSString).appendingPathComponent(file)) else { return nil }
            size += entry.size
            modified = max(modified, entry.modified)
        }
        return InputFingerprint(size: size, modified: modified)
    }

    /// SHA-256 of a file's bytes; for a directory, of each file's name and bytes in name order.
    static func checksum(of path: String) throws -> String {
        guard let own = status(of: path), own.isDirectory else { return try SHA256.hex(ofFile: path) }
        let sha = SHA256()
        for file in files(in: path) {
            sha.update(Data((file + "\u{0}").utf8))
            let full = (path as NSString).appendingPathComponent(file)
            guard let handle = FileHandle(forReadingAtPath: full) else { throw CommandFailure("\(full): cannot be read") }
            defer { try? handle.close() }
            while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty { sha.update(piece) }
        }
        return sha.finalize()
    }

    private static func files(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    private static func status(of path: String) -> (size: Int64, modified: Int64, isDirectory: Bool)? {
        var info = Glibc.stat()
        guard stat(path, &info) == 0 else { return nil }
        return (Int64(info.st_size), Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec),
                (info.st_mode & S_IFMT) == S_IFDIR)
    }
}
