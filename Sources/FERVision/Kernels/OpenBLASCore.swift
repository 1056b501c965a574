import COpenBLAS
import Foundation

/// Which of its CPU kernel sets OpenBLAS runs, and how fer-live gets the right one on CPUs newer than
/// the installed OpenBLAS.
///
/// OpenBLAS built with `DYNAMIC_ARCH` (Debian's is) picks a kernel set for the CPU model when it loads.
/// A model it does not know, like the Xeons after its release (Debian 12 ships 0.3.21, from 2022), gets
/// its generic SSE3 "Prescott" set: every GEMM then runs 3-6x slower than the AVX-512 or AVX2 kernels the
/// CPU has. OpenBLAS's supported way to choose is `OPENBLAS_CORETYPE`, read once, while the library
/// loads. So an executable calls `restartWithBestKernelsIfNeeded()` first thing: when OpenBLAS fell back
/// and the user chose nothing, it starts the same program again with the variable set from the CPU's
/// feature flags. No OpenBLAS internals are touched.
public enum OpenBLASCore {
    /// The kernel set OpenBLAS names when it did not recognize the CPU.
    static let genericFallback = "Prescott"
    /// Set beside `OPENBLAS_CORETYPE` on the restart, naming the set OpenBLAS had picked (for reports).
    static let replacedVariable = "FER_LIVE_OPENBLAS_REPLACED"

    /// OpenBLAS's name for the kernel set it runs now.
    static var currentName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The kernel set in use, and the one OpenBLAS had picked itself when fer-live replaced it:
    /// "SkylakeX (OpenBLAS picked Prescott)".
    static var description: String {
        let replaced = ProcessInfo.processInfo.environment[replacedVariable]
        return replaced.map { "\(currentName) (OpenBLAS picked \($0))" } ?? currentName
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

    /// The kernel set to start again with: OpenBLAS fell back to its generic set (`picked`), nobody
    /// chose one (`OPENBLAS_CORETYPE` unset, and this is not already the restart), and the CPU has
    /// better ones. nil: keep what runs.
    static func replacement(picked: String, environment: [String: String], flags: Set<Substring>) -> String? {
        guard picked == genericFallback, environment["OPENBLAS_CORETYPE"] == nil, environment[replacedVariable] == nil else {
            return nil
        }
        return bestCore(forFlags: flags)
    }

    /// For executables, first thing in `main`, before any thread starts or file opens: when OpenBLAS
    /// runs its generic kernels on a CPU with better ones and the user set no `OPENBLAS_CORETYPE`,
    /// replaces the process with the same program, arguments and environment, plus that variable.
    /// Returns (doing nothing) in every other case, and when the restart fails.
    public static func restartWithBestKernelsIfNeeded() {
        let picked = currentName
        guard let best = replacement(picked: picked, environment: ProcessInfo.processInfo.environment, flags: cpuFlags()) else {
            return
        }
        setenv("OPENBLAS_CORETYPE", best, 1)
        setenv(replacedVariable, picked, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: the restart failed. Go on with the generic kernels, with the environment as it was.
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(replacedVariable)
    }
}
