import FERVision
import Foundation

/// Runs analyze's inputs, up to `jobs` at once, each in a replay process of its own: a crash or a
/// runaway decoder costs that input only, memory is one input's per job, and every result comes from
/// the same code as `replay`. Records each input's end in the manifest.
final class BatchScheduler: @unchecked Sendable {
    struct Outcome {
        var done = 0, skipped = 0, failed = 0, busy = 0, left = 0
        var stopped = false
        /// (key, reason) of the inputs that failed in this run.
        var failures: [(String, String)] = []
    }

    private struct Running {
        let input: BatchInput
        let fingerprint: InputFingerprint
        let sha256: String
        let scratch: String
        let process: Process
        let lock: InputLock
        let started: Date
    }

    private let folder: BatchFolder
    private let manifest: BatchManifest
    private let outputs: [BatchFolder.Output]
    private let jobs: Int
    private let threads: Int
    private let replayArguments: [String]
    // Shared with the signal thread (stop) and the processes' termination handlers.
    private let stopping = Locked(false)
    private let runningProcesses = Locked<[Int32]>([])
    private let changed = DispatchSemaphore(value: 0)
    private var attempts = 0

    init(folder: BatchFolder, manifest: BatchManifest, outputs: [BatchFolder.Output], jobs: Int, threads: Int, replayArguments: [String]) {
        (self.folder, self.manifest, self.outputs, self.jobs, self.threads, self.replayArguments) =
            (folder, manifest, outputs, jobs, threads, replayArguments)
    }

    /// Starts no more inputs and stops the running ones (their results are dropped; a rerun does them).
    func stop() {
        stopping.withLock { $0 = true }
        for pid in runningProcesses.withLock({ $0 }) { kill(pid, SIGINT) }
        changed.signal()
    }

    func run(_ inputs: [BatchInput]) throws -> Outcome {
        var outcome = Outcome()
        // Inputs done and unchanged (by size and time) are skipped before the bar is sized.
        var queue: [(BatchInput, InputFingerprint?)] = []
        for input in inputs {
            let fingerprint = InputFingerprint.of(input.path)
            if let fingerprint, let entry = manifest.latest[input.key], entry.state == .done, entry.fingerprint == fingerprint {
                outcome.skipped += 1
            } else {
                queue.append((input, fingerprint))
            }
        }
        let totalBytes = max(1, queue.reduce(Int64(0)) { $0 + ($1.1?.size ?? 0) })
        var doneBytes: Int64 = 0, finished = 0
        let bar = ProgressBar(label: "analyze"), started = Date()
        var running: [Running] = []
        var next = queue.startIndex

        while true {
            while !stopping.withLock({ $0 }), running.count < jobs, next < queue.endIndex {
                let (input, fingerprint) = queue[next]
                next += 1
                switch try start(input, fingerprint: fingerprint) {
                case .started(let job): running.append(job)
                case .skipped: outcome.skipped += 1; finished += 1; doneBytes += fingerprint?.size ?? 0
                case .busy: outcome.busy += 1; finished += 1; doneBytes += fingerprint?.size ?? 0
                case .failed(let reason):
                    outcome.failed += 1; finished += 1; doneBytes += fingerprint?.size ?? 0
                    outcome.failures.append((input.key, reason))
                }
            }
            if running.isEmpty { break }
            _ = changed.wait(timeout: .now() + 0.5)
            for job in running where !job.process.isRunning {
                running.removeAll { $0.process === job.process }
                runningProcesses.withLock { $0.removeAll { $0 == job.process.processIdentifier } }
                finished += 1
                doneBytes += job.fingerprint.size
                switch try finish(job) {
                case .done: outcome.done += 1
                case .stopped: outcome.left += 1
                case .failed(let reason): outcome.failed += 1; outcome.failures.append((job.input.key, reason))
                }
                job.lock.release()
            }
            let elapsed = Date().timeIntervalSince(started), fraction = Double(doneBytes) / Double(totalBytes)
            bar.update(fraction: fraction, remaining: doneBytes > 0 ? elapsed / fraction * (1 - fraction) : nil,
                       detail: "\(finished)/\(queue.count) inputs\(outcome.failed > 0 ? "  \(outcome.failed) failed" : "")")
        }
        bar.finish()
        outcome.stopped = stopping.withLock { $0 }
        outcome.left += queue.endIndex - next
        return outcome
    }

    private enum Start { case started(Running), skipped, busy, failed(String) }

    /// Takes the input's lock, checks again whether it is done (another process may have done it since
    /// the manifest was read; a touched but unchanged file is done too), and starts its replay.
    private func start(_ input: BatchInput, fingerprint: InputFingerprint?) throws -> Start {
        guard let lock = folder.lock(input.key) else { return .busy }
        try manifest.refresh()
        let previous = manifest.latest[input.key]
        guard let fingerprint = InputFingerprint.of(input.path) ?? fingerprint else {
            return try failed(input, lock: lock, reason: "\(input.path): cannot be read")
        }
        if let previous, previous.state == .done, previous.fingerprint == fingerprint { return .skipped }
        let sha256: String
        do { sha256 = try InputFingerprint.checksum(of: input.path) } catch {
            return try failed(input, lock: lock, reason: "\(error)")
        }
        if let previous, previous.state == .done, previous.sha256 == sha256,
           previous.outputs.allSatisfy({ FileManager.default.fileExists(atPath: (folder.path as NSString).appendingPathComponent($0)) }) {
            try manifest.append(.init(key: input.key, path: input.path, state: .done, fingerprint: fingerprint, sha256: sha256,
                                      outputs: previous.outputs, reason: nil, seconds: previous.seconds))
            return .skipped
        }
        attempts += 1
        let scratch = try folder.scratch(for: input.key, attempt: attempts)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["replay", input.path, "--headless", "--as-fast-as-possible", "--without-latency", "--analyze-worker",
                             "--threads", String(threads)]
            + outputs.flatMap { [$0.option, (scratch as NSString).appendingPathComponent("result" + $0.suffix)] } + replayArguments
        let log = (scratch as NSString).appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: log)
        process.standardOutput = FileHandle.nullDevice
        process.terminationHandler = { [changed] _ in changed.signal() }
        do { try process.run() } catch {
            throw CommandFailure("cannot start a replay for \(input.path) (\((error as NSError).localizedDescription))")
        }
        runningProcesses.withLock { $0.append(process.processIdentifier) }
        return .started(Running(input: input, fingerprint: fingerprint, sha256: sha256, scratch: scratch, process: process, lock: lock, started: Date()))
    }

    private enum Finish { case done, stopped, failed(String) }

    /// A whole replay's results move into place and the input is done; a stopped one's are dropped; a
    /// failed one keeps the results up to its failure (a damaged video's frames before the damage).
    private func finish(_ job: Running) throws -> Finish {
        defer { try? FileManager.default.removeItem(atPath: job.scratch) }
        let status = job.process.terminationStatus, bySignal = job.process.terminationReason == .uncaughtSignal
        let seconds = Date().timeIntervalSince(job.started)
        // Once stopping, any end but a whole replay is the stop's doing (a signal in a replay's first
        // milliseconds ends it by the signal itself), not the input's.
        if status != 0 || bySignal, stopping.withLock({ $0 }) { return .stopped }
        var reason: String?
        if bySignal {
            reason = "its replay ended by signal \(status) (a crash, or killed)"
        } else if status != 0 {
            let log = (try? String(contentsOfFile: (job.scratch as NSString).appendingPathComponent("stderr.txt"), encoding: .utf8)) ?? ""
            let lines = log.split(separator: "\n").filter { $0.hasPrefix("fer-live: ") && !$0.hasPrefix("fer-live: note:") && !$0.hasPrefix("fer-live: warning:") }
            reason = lines.last.map { String($0.dropFirst("fer-live: ".count)) }
                ?? (status == 130 ? "its replay was stopped from outside before the end" : "its replay exited with status \(status)")
        }
        var moved: [String] = []
        if !bySignal {
            for output in outputs {
                let from = (job.scratch as NSString).appendingPathComponent("result" + output.suffix), to = folder.result(output, of: job.input.key)
                guard FileManager.default.fileExists(atPath: from) else { continue }
                try? FileManager.default.createDirectory(atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                guard rename(from, to) == 0 else { throw CommandFailure("\(to): cannot be written (\(String(cString: strerror(errno))))") }
                moved.append(job.input.key + output.suffix)
            }
        }
        try manifest.append(.init(key: job.input.key, path: job.input.path, state: reason == nil ? .done : .failed, fingerprint: job.fingerprint,
                                  sha256: job.sha256, outputs: moved, reason: reason, seconds: seconds))
        return reason.map { .failed($0) } ?? .done
    }

    private func failed(_ input: BatchInput, lock: InputLock, reason: String) throws -> Start {
        try manifest.append(.init(key: input.key, path: input.path, state: .failed, fingerprint: nil, sha256: nil, outputs: [], reason: reason,
                                  seconds: nil))
        return .failed(reason)
    }
}
