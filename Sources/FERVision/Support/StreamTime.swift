/// A time on a stream, in integer microseconds, as FFmpeg keeps times in integer ticks: every stream time,
/// time option, timestamps.csv value, presentation time and encoder clock goes through it, and every
/// conversion from outside (seconds as a `Double`, ticks of a time base) is checked, so a huge or
/// non-finite value is refused where it enters instead of trapping or hanging later.
///
/// The range is +-`limitSeconds` (10^12 s, about 31,700 years): wide enough for Unix-epoch capture
/// times, narrow enough that the sum or difference of two valid times never overflows.
public struct StreamTime: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Microseconds.
    public let microseconds: Int64

    /// The largest magnitude, in seconds.
    public static let limitSeconds = 1e12
    static let limitMicroseconds: Int64 = 1_000_000_000_000_000_000

    public static let zero = StreamTime(uncheckedMicroseconds: 0)

    private init(uncheckedMicroseconds: Int64) { microseconds = uncheckedMicroseconds }

    /// `microseconds`, or nil when out of range.
    public init?(microseconds: Int64) {
        guard (-Self.limitMicroseconds...Self.limitMicroseconds).contains(microseconds) else { return nil }
        self.microseconds = microseconds
    }

    /// `seconds` rounded to the microsecond, or nil when not finite or out of range.
    public init?(seconds: Double) {
        guard seconds.isFinite, abs(seconds) <= Self.limitSeconds else { return nil }
        self.init(microseconds: Int64((seconds * 1e6).rounded()))
    }

    /// `ticks` of `numerator / denominator` seconds each (an FFmpeg time base), or nil when the product
    /// overflows or is out of range.
    public init?(ticks: Int64, numerator: Int32, denominator: Int32) {
        guard numerator > 0, denominator > 0 else { return nil }
        let (scaled, overflow) = ticks.multipliedReportingOverflow(by: Int64(numerator) * 1_000_000)
        guard !overflow else { return nil }
        // Rounded to the nearest microsecond, halves away from zero.
        let d = Int64(denominator)
        let rounded = scaled >= 0 ? (scaled + d / 2) / d : -((-scaled + d / 2) / d)
        self.init(microseconds: rounded)
    }

    public var seconds: Double { Double(microseconds) / 1e6 }

    /// One frame's time at `framesPerSecond`, clamped to 0.001...1000 frames per second (30 when not
    /// finite), so it is always a valid time.
    public static func frameInterval(framesPerSecond: Double) -> StreamTime {
        let rate = framesPerSecond.isFinite ? min(1000, max(framesPerSecond, 1e-3)) : 30
        return StreamTime(uncheckedMicroseconds: Int64((1e6 / rate).rounded()))
    }

    /// This time in ticks of `numerator / denominator` seconds, rounded to the nearest tick; nil on overflow.
    public func ticks(numerator: Int32, denominator: Int32) -> Int64? {
        guard numerator > 0, denominator > 0 else { return nil }
        let (scaled, overflow) = microseconds.multipliedReportingOverflow(by: Int64(denominator))
        guard !overflow else { return nil }
        let unit = Int64(numerator) * 1_000_000
        return scaled >= 0 ? (scaled + unit / 2) / unit : -((-scaled + unit / 2) / unit)
    }

    /// Sum and difference of two valid times: within 2 x the limit, so they never overflow Int64; the
    /// result is clamped to the range.
    public static func + (a: StreamTime, b: StreamTime) -> StreamTime { clamped(a.microseconds + b.microseconds) }
    public static func - (a: StreamTime, b: StreamTime) -> StreamTime { clamped(a.microseconds - b.microseconds) }

    private static func clamped(_ value: Int64) -> StreamTime {
        StreamTime(uncheckedMicroseconds: min(limitMicroseconds, max(-limitMicroseconds, value)))
    }

    public static func < (a: StreamTime, b: StreamTime) -> Bool { a.microseconds < b.microseconds }

    public var description: String { "\(seconds) s" }

    /// Why `seconds` cannot be a stream time, in words for an error line naming its source; nil when it can.
    public static func refusal(_ seconds: Double) -> String? {
        if !seconds.isFinite { return "\(seconds) is not a finite number of seconds" }
        if abs(seconds) > limitSeconds { return "\(seconds) s is beyond +-10^12 s, the longest stream time fer-live handles" }
        return nil
    }
}
