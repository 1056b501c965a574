import CFFmpeg
import Foundation

/// SHA-256 of bytes and files, by libavutil's implementation (FFmpeg is linked for video anyway), so a
/// batch can tell whether an input changed since it was analyzed.
public final class SHA256 {
    private var context: OpaquePointer?

    public init() {
        // av_sha_alloc fails only when memory is gone, where nothing else would work either.
        guard let context = av_sha_alloc() else { fatalError("out of memory for a SHA-256 context") }
        av_sha_init(context, 256)
        self.context = context
    }

    /// Adds `bytes` to the digest.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let context, let base = bytes.baseAddress, bytes.count > 0 else { return }
        av_sha_update(context, base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    /// Adds `data` to the digest.
    public func update(_ data: Data) { data.withUnsafeBytes { update($0) } }

    /// The digest as 64 lowercase hex digits. Call it once, last: it ends the digest.
    public func finalize() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        if let context { av_sha_final(context, &digest) }
        release()
        return digest.map { String(format: "%02x", $0) }.joined()
    }

    deinit { release() }

    private func release() {
        if let context { av_free(UnsafeMutableRawPointer(context)) }
        context = nil
    }

    /// The digest of a file's contents, read in 1 MiB pieces (memory stays flat for any size).
    public static func hex(ofFile path: String) throws(DatasetError) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw DatasetError(path: path, "cannot be read") }
        defer { try? handle.close() }
        let sha = SHA256()
        do {
            while let piece = try handle.read(upToCount: 1 << 20), !piece.isEmpty { sha.update(piece) }
        } catch {
            throw DatasetError(path: path, "read failed (\((error as NSError).localizedDescription))")
        }
        return sha.finalize()
    }
}
