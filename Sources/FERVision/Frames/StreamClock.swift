/// Seconds of stream across inputs played in a row: frame timestamps run forward within an input and start
/// again with the next one, which continues one frame interval after the last.
public struct StreamClock: Sendable, Equatable {
    private var lastTimestamp: Double?
    private var lastInterval = 0.0
    /// Seconds since the first frame.
    public private(set) var now = 0.0

    public init() {}

    /// Shift that puts the current input's own timestamps on one line with the inputs before it.
    private var offset = 0.0

    /// A frame's own timestamp on one continuous line across inputs: unchanged while timestamps run
    /// forward (so a single input's times are kept exactly), shifted after each restart so that the next
    /// input continues one frame interval after the last frame. Recordings write these, so a recording of
    /// several inputs replays with the times the run had.
    public mutating func continued(_ timestamp: Double) -> Double {
        if let last = lastTimestamp, timestamp < last { offset += last + lastInterval - timestamp }
        advance(to: timestamp)
        return timestamp + offset
    }

    /// Moves to a frame's own timestamp; returns its time on the stream.
    @discardableResult
    public mutating func advance(to timestamp: Double) -> Double {
        if let last = lastTimestamp {
            if timestamp >= last { lastInterval = timestamp - last }
            now += timestamp >= last ? timestamp - last : lastInterval
        }
        lastTimestamp = timestamp
        return now
    }
}
