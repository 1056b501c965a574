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
/// Parts are taken, not assigned: the caller and each helper take the next part not yet taken until none
/// is left. On a busy machine (another program on every core) a helper may not run for milliseconds;
/// with parts bound to helpers each fork then waited for it, and a 2-thread replay ran 3 to 20 times
/// slower than a 1-thread one. Now the caller takes the parts a late helper has not started, so a
/// split is never slower than running it alone, waiting at most for parts already under way.
///
/// One caller at a time: `run` reports false when another caller holds the pool (a concurrent or
/// nested split), and `BLAS.parallelSlices` then falls back to Dispatch.
///
/// `@unchecked Sendable`: the job is a plain stored closure, written by the caller before it opens the
/// run's parts (sequentially consistent) and read only by whoever took one of them; the caller clears it
/// only after every part is done. Everything else is atomic, immutable, or the caller's while it holds
/// the pool.
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
    /// The run's parts not yet done (taken or not).
    private let unfinished = Atomic<Int>(0)
    /// The run whose parts can be taken: its number (high 40 bits), its part count (12 bits) and the next
    /// part to take (low 12 bits), in one word, so a part is only ever taken from the run it belongs to.
    private let claims = Atomic<UInt64>(0)
    private let stopping = Atomic<Bool>(false)
    nonisolated(unsafe) private var job: ((Int) -> Void)?
    /// The caller's count of runs, while it holds the pool.
    nonisolated(unsafe) private var runNumber: UInt64 = 0
    private static let partBits: UInt64 = 12

    /// Starts `helperCount` threads (they sleep until the first job).
    init(helperCount: Int) {
        self.helperCount = max(0, helperCount)
        helpers = (0..<self.helperCount).map { _ in Helper() }
        for (index, helper) in helpers.enumerated() {
            let thread = Thread { [self] in serve(helper) }
            thread.name = "fer-live.kernels.\(index + 1)"
            thread.start()
        }
    }

    /// Runs `body(part)` once for every part in `0..<parts`, on the calling thread and up to `parts - 1`
    /// helpers (whichever takes a part first), and returns when all are done. Returns false without
    /// running anything when the pool is in use or has too few helpers.
    func run(parts: Int, _ body: (Int) -> Void) -> Bool {
        guard parts >= 1, parts - 1 <= helperCount, parts < 1 << Self.partBits, !stopping.load(ordering: .relaxed),
              held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        defer { held.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            job = body
            runNumber = (runNumber &+ 1) & (1 << (64 - 2 * Self.partBits) - 1)
            unfinished.store(parts, ordering: .sequentiallyConsistent)
            claims.store(runNumber << (2 * Self.partBits) | UInt64(parts) << Self.partBits, ordering: .sequentiallyConsistent)
            for helper in helpers.prefix(parts - 1) { publish(to: helper) }
            takeParts()
            while unfinished.load(ordering: .sequentiallyConsistent) > 0 { Self.relax() }
            job = nil
        }
        return true
    }

    /// Takes the open run's parts one at a time and runs them, until none is left to take.
    private func takeParts() {
        while let part = takePart() {
            job!(part)
            unfinished.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
    }

    /// The next part of the open run, or nil when every part is taken (or no run is open).
    private func takePart() -> Int? {
        let mask: UInt64 = 1 << Self.partBits - 1
        var state = claims.load(ordering: .sequentiallyConsistent)
        while true {
            let parts = (state >> Self.partBits) & mask, next = state & mask
            guard next < parts else { return nil }
            let (exchanged, current) = claims.compareExchange(expected: state, desired: state + 1, ordering: .sequentiallyConsistent)
            if exchanged { return Int(next) }
            state = current
        }
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

    private func serve(_ helper: Helper) {
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
            takeParts()
        }
    }

    /// One turn of a wait loop.
    private static func relax() { sched_yield() }
}
