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
            wait(for: post { outcome = body() })
        }
        return outcome!
    }

    /// Runs `first` on `firstThread` and `second` on `secondThread` at the same time, and returns both
    /// results once both have finished. The caller hands both jobs over itself: asking Dispatch to
    /// hand over the second (`concurrentPerform`) left it, after a frame's pause, until a parked worker
    /// woke, often after the first job had finished.
    static func runTogether<First, Second>(_ firstThread: DedicatedThread, _ first: () -> First,
                                           _ secondThread: DedicatedThread, _ second: () -> Second) -> (First, Second) {
        // Callers of two threads take them in the order given; `QuantizedResNet9` always gives its lanes in order.
        firstThread.callers.lock()
        secondThread.callers.lock()
        defer {
            secondThread.callers.unlock()
            firstThread.callers.unlock()
        }
        var firstOutcome: First?, secondOutcome: Second?
        withoutActuallyEscaping(first) { first in
            withoutActuallyEscaping(second) { second in
                let secondTicket = secondThread.post { secondOutcome = second() }
                let firstTicket = firstThread.post { firstOutcome = first() }
                firstThread.wait(for: firstTicket)
                secondThread.wait(for: secondTicket)
            }
        }
        return (firstOutcome!, secondOutcome!)
    }

    /// Hands `work` to the thread; returns its ticket for `wait(for:)`. The caller holds `callers`.
    private func post(_ work: @escaping () -> Void) -> Int {
        condition.lock()
        defer { condition.unlock() }
        job = work
        submitted += 1
        condition.broadcast()
        return submitted
    }

    /// Returns once the job of `ticket` has finished (and the thread has let go of it).
    private func wait(for ticket: Int) {
        condition.lock()
        while finished < ticket { condition.wait() }
        condition.unlock()
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
