import COpenBLAS
import Foundation

/// Which of its CPU kernel sets OpenBLAS runs, and the repair for CPUs newer than the installed OpenBLAS.
///
/// OpenBLAS built with `DYNAMIC_ARCH` (Debian's is) picks a kernel set for the CPU model when it loads.
/// A model it does not know, like the Xeons after its release (Debian 12 ships 0.3.21, from 2022), gets
/// its generic SSE3 "Prescott" set: every GEMM then runs 3-6x slower than the AVX-512 or AVX2 kernels the
/// CPU has. When that happened and the user did not choose a set with `OPENBLAS_CORETYPE`, fer-live
/// chooses one from the CPU's feature flags and reruns OpenBLAS's own selection with it, exactly what
/// starting the process with `OPENBLAS_CORETYPE` set would have done.
enum OpenBLASCore {
    /// The kernel set OpenBLAS names when it did not recognize the CPU.
    static let genericFallback = "Prescott"

    /// What `selectForThisCPU` found and did.
    struct Selection: Equatable {
        /// OpenBLAS's name for the kernel set in use afterwards.
        var coreName: String
        /// The set OpenBLAS had picked itself, when fer-live replaced it.
        var replaced: String?
    }

    /// OpenBLAS's name for the kernel set it runs now.
    static var currentName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The best kernel set for CPU feature flags (as in /proc/cpuinfo), by OpenBLAS's names; nil when
    /// the CPU has neither AVX2 nor AVX-512, where the generic set is the right one.
    static func bestCore(forFlags flags: Set<Substring>) -> String? {
        if ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains) { return "SkylakeX" }
        if flags.contains("avx2"), flags.contains("fma") { return "Haswell" }
        return nil
    }

    /// The feature flags of the first CPU in /proc/cpuinfo (empty where it cannot be read).
    static func cpuFlags(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> Set<Substring> {
        guard let line = cpuinfo?.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " "))
    }

    /// Replaces OpenBLAS's generic fallback with the best set this CPU runs, unless the user chose one.
    /// Call before the first BLAS call (the kernel set also sizes the blocks every later call uses), and
    /// before starting threads that read the environment: it sets OPENBLAS_CORETYPE for the moment
    /// OpenBLAS reads it. `BLAS` does both from its one-time setup, which the commands reach first
    /// through `BLAS.setThreadCount`.
    static func selectForThisCPU() -> Selection {
        let picked = currentName
        guard picked == genericFallback, ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let best = bestCore(forFlags: cpuFlags()),
              // Only a DYNAMIC_ARCH build has these; a build for one CPU is left as it is.
              let table = dlsym(nil, "gotoblas"), let initialize = dlsym(nil, "gotoblas_dynamic_init")
        else { return Selection(coreName: picked) }
        // OpenBLAS's selection reads OPENBLAS_CORETYPE and runs only while its kernel table is unset.
        setenv("OPENBLAS_CORETYPE", best, 1)
        table.assumingMemoryBound(to: UnsafeRawPointer?.self).pointee = nil
        unsafeBitCast(initialize, to: (@convention(c) () -> Void).self)()
        unsetenv("OPENBLAS_CORETYPE")
        return Selection(coreName: currentName, replaced: picked)
    }
}
