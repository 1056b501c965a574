import FERVision
import Foundation

/// The output folder of `analyze`: results under each input's key, the manifest, the settings the
/// results were made with, and `.work/` for locks and results still being made (moved into place whole).
struct BatchFolder {
    let path: String
    var work: String { (path as NSString).appendingPathComponent(".work") }

    /// The result files of one input, by what each holds: the replay option that writes it, and the
    /// suffix its name takes after the input's key.
    enum Output: CaseIterable {
        case records, summary, timeline, annotatedVideo

        var option: String {
            switch self {
            case .records: "--output"
            case .summary: "--summary"
            case .timeline: "--timeline"
            case .annotatedVideo: "--annotate"
            }
        }

        var suffix: String {
            switch self {
            case .records: ".jsonl"
            case .summary: ".summary.json"
            case .timeline: ".timeline.svg"
            case .annotatedVideo: ".annotated.mp4"
            }
        }
    }

    /// Creates the folder and its work folder.
    init(path: String) throws {
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).appendingPathComponent(".work/locks"), withIntermediateDirectories: true)
        } catch {
            throw CommandFailure("\(path): cannot be created (\((error as NSError).localizedDescription))")
        }
    }

    /// Where an input's result of one kind ends up.
    func result(_ output: Output, of key: String) -> String { (path as NSString).appendingPathComponent(key + output.suffix) }

    /// Records `settings` on the first run; a later run must bring the same ones, since the folder's
    /// results would otherwise mix two models or two sets of options. Two first runs at once (two shards)
    /// agree through link(2), which only one of them can win.
    func agree(on settings: JSONValue) throws {
        let file = (path as NSString).appendingPathComponent("settings.json"), text = settings.serialized + "\n"
        let draft = (work as NSString).appendingPathComponent("settings.\(getpid()).json")
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: draft)) } catch { throw CommandFailure("\(draft): cannot be written") }
        defer { unlink(draft) }
        if link(draft, file) == 0 { return }
        guard let recorded = FileManager.default.contents(atPath: file) else { throw CommandFailure("\(file): cannot be read") }
        guard String(decoding: recorded, as: UTF8.self) == text else {
            throw CommandFailure("""
                \(path) holds results made with other settings (\(file)): a different model or options would mix two kinds of \
                results; give another --out, or remove the folder to start over
                """)
        }
    }

    /// An exclusive hold on one input, released when the process ends in any way, so two processes
    /// sharing the folder never work on the same input at once. Nil when another process holds it.
    func lock(_ key: String) -> InputLock? {
        let name = (work as NSString).appendingPathComponent("locks/" + Self.token(key) + ".lock")
        let descriptor = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { return nil }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            close(descriptor)
            return nil
        }
        return InputLock(descriptor: descriptor)
    }

    /// A fresh folder for an input's results while they are made; earlier ones of the same input (left
    /// by a process that was killed) go first, which holding its lock makes safe.
    func scratch(for key: String, attempt: Int) throws -> String {
        let token = Self.token(key)
        for stale in (try? FileManager.default.contentsOfDirectory(atPath: work)) ?? [] where stale.hasPrefix(token + ".") {
            try? FileManager.default.removeItem(atPath: (work as NSString).appendingPathComponent(stale))
        }
        let scratch = (work as NSString).appendingPathComponent("\(token).\(getpid()).\(attempt)")
        do { try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true) } catch {
            throw CommandFailure("\(scratch): cannot be created (\((error as NSError).localizedDescription))")
        }
        return scratch
    }

    /// A short name for a key that is safe as a file name.
    private static func token(_ key: String) -> String {
        let sha = SHA256()
        sha.update(Data(key.utf8))
        return String(sha.finalize().prefix(20))
    }
}

/// A held input lock (BatchFolder.lock): released by `release()`, or by the process's end.
final class InputLock {
    private var descriptor: Int32
    init(descriptor: Int32) { self.descriptor = descriptor }
    func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }
    deinit { release() }
}
