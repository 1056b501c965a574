import Dispatch
import Foundation
import Synchronization

/// Threads that stay with the kernels between their fork-joins, so splitting a layer over cores costs
/// a store and a load instead of waking a sleeping thread.
///
/// Why not `DispatchQueue.concurrentPerform`: a batch-1 forward pass forks and joins about thirty times
/// in a few milliseconds. Dispatch parks its threads between them, and live, where the network rests
/// between frames, every fork then waits for the kernel (and, in a virtual machine, the hypervisor) to
/// wake the other core: measured, a 2-thread pass started every 33 ms took as long as a 1-thread pass.
/// A helper here stays awake for `spinSeconds` after each part before it sleeps, so within a pass it
/// is always ready, and between frames it sleeps and costs nothing.
///
/// One caller at a time: `run` reports false when another caller holds the pool (a concurrent or
/// nested split), and `BLAS.parallelSlices` then falls back to Dispatch.
///
/// `@unchecked Sendable`: the job is a plain stored closure, written by the caller before it publishes
/// a new generation (sequentially consistent) and read by helpers only after they see it; the caller
/// clears it only after every helper has reported done. Everything else is atomic or immutable.
final class WorkerPool: @unchecked Sendable {
    /// How long an idle helper stays awake: longer than the gaps inside a forward pass, much shorter
    /// than the time between a camera's frames.
    static let spinSeconds = 0.002

    /// Threads besides the caller's.
    let helperCount: Int

    private final class Helper: Sendable {
        /// Bumped by the caller for each job; the helper runs a job when it sees a generation it has not run.
        let generation = Atomic<UInt64>(0)
        /// True while the helper waits on `wakeUp` (or is about to).
        let sleeping = Atomic<Bool>(false)
        let wakeUp = DispatchSemaphore(value: 0)
    }

    private let helpers: [Helper]
    private let held = Atomic<Bool>(false)
    private let unfinished = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    nonisolated(unsafe) private var job: ((Int) -> Void)?

    /// Starts `helperCount` threads (they sleep until the first job).
    init(helperCount: Int) {
        self.helperCount = max(0, helperCount)
        helpers = (0..<self.helperCount).map { _ in Helper() }
        for (index, helper) in helpers.enumerated() {
            let thread = Thread { [self] in serve(helper, part: index + 1) }
            thread.name = "fer-live.kernels.\(index + 1)"
            thread.start()
        }
    }

    /// Runs `body(part)` for every part in `0..<parts`: part 0 on the calling thread, part i on helper i,
    /// and returns when all are done. Returns false without running anything when the pool is in use or
    /// has too few helpers.
    func run(parts: Int, _ body: (Int) -> Void) -> Bool {
        guard parts - 1 <= helperCount, !stopping.load(ordering: .relaxed),
              held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { held.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            job = body
            unfinished.store(parts - 1, ordering: .sequentiallyConsistent)
            for helper in helpers.prefix(parts - 1) { publish(to: helper) }
            body(0)
            while unfinished.load(ordering: .sequentiallyConsistent) > 0 { Self.relax() }
            job = nil
        }
        return true
    }

    /// Waits for the run in progress, if any, to finish, then ends the helpers (they exit; the pool can
    /// run nothing more). It takes the pool for good, as a caller would, so no run can be in flight
    /// while the helpers stop: a helper never leaves a run's part undone, and `run` never waits for
    /// one that will not come. Must not be called from inside one of this pool's jobs (it would wait
    /// for itself); `BLAS.setThreadCount` calls it outside its lock, after new callers use a new pool.
    func stop() {
        while !held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged { Self.relax() }
        stopping.store(true, ordering: .sequentiallyConsistent)
        for helper in helpers { publish(to: helper) }
    }

    private func publish(to helper: Helper) {
        helper.generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
        // The helper set `sleeping` before its last look at the generation: one of the two sees the other.
        if helper.sleeping.exchange(false, ordering: .sequentiallyConsistent) { helper.wakeUp.signal() }
    }

    private func serve(_ helper: Helper, part: Int) {
        var seen: UInt64 = 0
        while true {
            var idleSince = MonotonicClock.seconds()
            while helper.generation.load(ordering: .sequentiallyConsistent) == seen {
                if MonotonicClock.seconds() - idleSince < Self.spinSeconds { Self.relax(); continue }
                helper.sleeping.store(true, ordering: .sequentiallyConsistent)
                if helper.generation.load(ordering: .sequentiallyConsistent) != seen,
                   helper.sleeping.exchange(false, ordering: .sequentiallyConsistent) {
                    break  // a job came in time and nobody will signal: take it awake
                }
                // Either no job yet, or the caller saw `sleeping` and signals: consume that signal.
                helper.wakeUp.wait()
                idleSince = MonotonicClock.seconds()
            }
            seen = helper.generation.load(ordering: .sequentiallyConsistent)
            if stopping.load(ordering: .sequentiallyConsistent) { return }
            job?(part)
            unfinished.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
    }

    /// One turn of a wait loop.
    private static func relax() { sched_yield() }
}
