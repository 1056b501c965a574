import COpenBLAS
import Dispatch
import Synchronization

/// The matrix multiply every convolution and linear layer runs on, and how work is spread over cores.
///
/// FERVision splits work across its own kernel threads (`WorkerPool`: ranges of channels, GEMM rows,
/// Winograd components) and keeps OpenBLAS single-threaded inside each call: the network's many mid-sized GEMMs
/// and its transforms then all scale, where OpenBLAS's own threads would only split each GEMM.
public enum BLAS {
    private static let workers = Atomic<Int>(1)
    /// The threads that run the other slices (one fewer than `threadCount`).
    private static let pool = Locked<WorkerPool?>(nil)
    /// Before the first multiply: one OpenBLAS thread (it starts with one per core).
    private static let setUp: Void = openblas_set_num_threads(1)

    /// Sets how many threads FERVision's kernels use from now on (process-wide). Safe while other threads
    /// run passes: a pass in flight finishes on the threads it started with.
    public static func setThreadCount(_ count: Int) {
        _ = setUp
        let count = max(1, count)
        workers.store(count, ordering: .relaxed)
        // New callers get the new pool at once; the old one is stopped outside the lock, after the run in
        // flight on it (another thread's pass) has finished, so a resize never strands a pass.
        let replaced: WorkerPool? = pool.withLock { pool in
            guard pool?.helperCount != count - 1 else { return nil }
            let old = pool
            pool = count > 1 ? WorkerPool(helperCount: count - 1) : nil
            return old
        }
        replaced?.stop()
    }

    /// The number of threads FERVision's kernels use (1 unless set).
    public static var threadCount: Int { workers.load(ordering: .relaxed) }

    /// OpenBLAS's name for the CPU kernel set in use (for benchmark reports), and the one OpenBLAS had
    /// picked itself when fer-live replaced its generic fallback: "SkylakeX (OpenBLAS picked Prescott)"
    /// (see `OpenBLASCore`).
    public static var coreName: String { OpenBLASCore.description }

    /// Runs `body` on `parts` contiguous slices of `0..<count`, one per worker, and returns when all are
    /// done. With one worker (or one slice) it runs inline on the caller's thread; otherwise on the kernel
    /// threads (`WorkerPool`), or on Dispatch's when they are busy with another caller.
    static func parallelSlices(of count: Int, parts: Int = threadCount, _ body: (Int, Range<Int>) -> Void) {
        let parts = max(1, min(parts, count))
        if parts == 1 { return body(0, 0..<count) }
        // Each part works on its own slice, and this call returns only when all are done: the body may
        // capture what it writes to (pointers, mostly) without being Sendable.
        nonisolated(unsafe) let body = body
        @Sendable func slice(_ part: Int) { body(part, (count * part / parts)..<(count * (part + 1) / parts)) }
        if let pool = pool.withLock({ $0 }), pool.run(parts: parts, slice) { return }
        DispatchQueue.concurrentPerform(iterations: parts) { slice($0) }
    }

    /// `C = A * B (+ C if accumulate)`, row-major, with explicit leading dimensions, on the calling thread.
    ///   A: [m, k] (or [k, m] read transposed when `transposeA`), B: [k, n] (or [n, k] when `transposeB`),
    ///   C: [m, n] with row stride `ldc`.
    @inline(__always)
    static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
    ) {
        _ = setUp
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k),
                    1, a, Int32(lda), b, Int32(ldb),
                    accumulate ? 1 : 0, c, Int32(ldc))
    }
}
