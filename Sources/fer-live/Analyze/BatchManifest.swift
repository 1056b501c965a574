import FERVision
import Foundation

/// analyze's record of its inputs in the output folder: `manifest.jsonl`, one JSON object per line,
/// only ever appended, each line written whole under an exclusive lock, so several analyze processes
/// (the shards of one batch, on one machine or on a cluster's shared folder) can share it. The last line
/// about an input is its state.
final class BatchManifest {
    enum State: String { case done, failed }

    /// One line: an input's state after a run, what it was then, and what it wrote.
    struct Entry {
        let key: String
        let path: String
        let state: State
        let fingerprint: InputFingerprint?
        let sha256: String?
        /// Result files, relative to the output folder.
        let outputs: [String]
        /// For a failed input: why, in one line.
        let reason: String?
        let seconds: Double?

        var json: JSONValue {
            var fields: [(String, JSONValue)] = [("input", .string(key)), ("path", .string(path)), ("state", .string(state.rawValue))]
            if let fingerprint { fields += [("size", .integer(Int(fingerprint.size))), ("modified_ns", .integer(Int(fingerprint.modified)))] }
            if let sha256 { fields.append(("sha256", .string(sha256))) }
            fields.append(("outputs", .array(outputs.map { .string($0) })))
            if let reason { fields.append(("reason", .string(reason))) }
            if let seconds { fields.append(("seconds", .number((seconds * 1000).rounded() / 1000))) }
            fields.append(("finished", .string(ISO8601DateFormatter().string(from: Date()))))
            return .object(fields)
        }

        init(key: String, path: String, state: State, fingerprint: InputFingerprint?, sha256: String?, outputs: [String], reason: String?,
             seconds: Double?) {
            (self.key, self.path, self.state, self.fingerprint, self.sha256) = (key, path, state, fingerprint, sha256)
            (self.outputs, self.reason, self.seconds) = (outputs, reason, seconds)
        }

        init?(_ object: [String: Any]) {
            guard let key = object["input"] as? String, let path = object["path"] as? String,
                  let state = (object["state"] as? String).flatMap(State.init(rawValue:)) else { return nil }
            let size = (object["size"] as? NSNumber)?.int64Value, modified = (object["modified_ns"] as? NSNumber)?.int64Value
            self.init(key: key, path: path, state: state, fingerprint: size.flatMap { size in modified.map { InputFingerprint(size: size, modified: $0) } },
                      sha256: object["sha256"] as? String, outputs: object["outputs"] as? [String] ?? [], reason: object["reason"] as? String,
                      seconds: (object["seconds"] as? NSNumber)?.doubleValue)
        }
    }

    static let fileName = "manifest.jsonl"

    let path: String
    /// Each input's latest entry, as of the last `refresh()`.
    private(set) var latest: [String: Entry] = [:]
    private var readUpTo: UInt64 = 0

    /// Opens (creating) the manifest in `folder` and reads it.
    init(folder: String) throws {
        path = (folder as NSString).appendingPathComponent(Self.fileName)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CommandFailure("\(path): cannot be written (\(String(cString: strerror(errno))))") }
        close(descriptor)
        try refresh()
    }

    /// Reads the lines other processes appended since the last read. A line without its end (a process
    /// that died mid-write, which one write() makes all but impossible) is left for the next read.
    func refresh() throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CommandFailure("\(path): cannot be read") }
        defer { try? handle.close() }
        try handle.seek(toOffset: readUpTo)
        let data = try handle.readToEnd() ?? Data()
        guard let lastNewline = data.lastIndex(of: UInt8(ascii: "\n")) else { return }
        for line in data[data.startIndex...lastNewline].split(separator: UInt8(ascii: "\n")) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], let entry = Entry(object) else { continue }
            latest[entry.key] = entry
        }
        readUpTo += UInt64(lastNewline - data.startIndex + 1)
    }

    /// Appends `entry` as one line, in one write, under an exclusive lock, and syncs it to disk.
    func append(_ entry: Entry) throws {
        let line = Data((entry.json.serialized + "\n").utf8)
        let descriptor = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { throw CommandFailure("\(path): cannot be written (\(String(cString: strerror(errno))))") }
        defer { close(descriptor) }
        guard flock(descriptor, LOCK_EX) == 0 else { throw CommandFailure("\(path): cannot be locked (\(String(cString: strerror(errno))))") }
        defer { flock(descriptor, LOCK_UN) }
        // A line cut short by a full disk would swallow the next one: start a fresh line after it.
        var last: UInt8 = 0x0A
        let size = lseek(descriptor, 0, SEEK_END)
        if size > 0 { _ = pread(descriptor, &last, 1, size - 1) }
        let record = last == 0x0A ? line : Data("\n".utf8) + line
        let written = record.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == record.count, fsync(descriptor) == 0 else {
            throw CommandFailure("\(path): write failed (\(String(cString: strerror(errno)))); the lines before are intact")
        }
        latest[entry.key] = entry
    }
}
