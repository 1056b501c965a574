import Foundation

/// One long-lived thread that runs the closures handed to it, one at a time, while each caller waits.
///
/// For work whose threading library keeps per-thread state: OpenMP (oneDNN's threads) keeps a team of
/// threads for each thread that starts parallel work, so passes started from Dispatch's changing worker
/// threads each built a new team (tens of milliseconds on a frame). Run from here, every pass finds the
/// same warm team.
///
/// The owner calls `stop()` when done with it (the thread holds this object until then).
///
/// `@unchecked Sendable`: `job`, the counters and `stopping` are read and written only under `condition`.
final class DedicatedThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var job: (() -> Void)?
    private var finished = 0
    private var submitted = 0
    private var stopping = false
    /// Serializes callers: one job at a time.
    private let callers = NSLock()

    init(name: String) {
        let thread = Thread { self.serve() }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Runs `body` on the thread and returns what it returned, once it has finished.
    func run<Result>(_ body: () -> Result) -> Result {
        callers.lock()
        defer { callers.unlock() }
        var outcome: Result?
        withoutActuallyEscaping(body) { body in
            let work = { outcome = body() }
            condition.lock()
            job = work
            submitted += 1
            let ticket = submitted
            condition.broadcast()
            while finished < ticket { condition.wait() }
            condition.unlock()
        }
        return outcome!
    }

    /// Lets the thread end after the job it may be running.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func serve() {
        while true {
            condition.lock()
            while job == nil, !stopping { condition.wait() }
            guard var work = job else {
                condition.unlock()
                return
            }
            job = nil
            condition.unlock()
            work()
            // The caller's closure must be released before the caller hears it is done (it checks that
            // nothing kept it).
            work = {}
            condition.lock()
            finished += 1
            condition.broadcast()
            condition.unlock()
        }
    }
}
