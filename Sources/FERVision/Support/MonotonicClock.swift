import Foundation

/// The process's clock for frame times and latency: CLOCK_MONOTONIC, the clock V4L2 stamps camera
/// buffers with, so a capture time and "now" can be subtracted.
public enum MonotonicClock {
    /// Seconds since an arbitrary fixed point (boot, on Linux).
    public static func seconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
