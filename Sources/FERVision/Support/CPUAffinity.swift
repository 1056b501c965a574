import CScheduler

/// The CPUs a thread may run on (Linux's affinity mask, glibc's 1024-bit `cpu_set_t`).
enum CPUAffinity {
    private static let maskWords = 16

    /// The CPUs the calling thread may run on, in increasing order; empty when they cannot be read.
    static func allowedCPUs() -> [Int] {
        var mask = [UInt64](repeating: 0, count: maskWords)
        guard mask.withUnsafeMutableBytes({ sched_getaffinity(0, $0.count, $0.baseAddress) }) == 0 else { return [] }
        return (0..<maskWords * 64).filter { mask[$0 / 64] >> UInt64($0 % 64) & 1 == 1 }
    }

    /// Keeps the calling thread on `cpu` from now on. Returns false when the system refuses (a CPU the
    /// process may not use).
    @discardableResult
    static func pinCallingThread(to cpu: Int) -> Bool {
        precondition((0..<maskWords * 64).contains(cpu))
        var mask = [UInt64](repeating: 0, count: maskWords)
        mask[cpu / 64] = 1 << UInt64(cpu % 64)
        return mask.withUnsafeBytes { sched_setaffinity(0, $0.count, $0.baseAddress) } == 0
    }
}
