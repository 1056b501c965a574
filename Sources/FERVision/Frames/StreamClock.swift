/// Seconds of stream across inputs played in a row: frame timestamps run forward within an input and start
/// again with the next one, which continues one frame interval after the last.
public struct StreamClock: Sendable, Equatable {
    private var lastTimestamp: Double?
    private var lastInterval = 0.0
    /// Seconds since the first frame.
    public private(set) var now = 0.0

    public init() {}

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
