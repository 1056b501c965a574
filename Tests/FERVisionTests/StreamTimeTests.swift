@testable import FERVision
import XCTest

/// Stream times: every conversion from outside is checked, so out-of-range values are refused, not trapped.
final class StreamTimeTests: XCTestCase {
    func testSecondsAreRoundedToTheMicrosecondAndRefusedOutOfRange() {
        XCTAssertEqual(StreamTime(seconds: 1.5)?.microseconds, 1_500_000)
        XCTAssertEqual(StreamTime(seconds: -0.0000004)?.microseconds, 0)
        XCTAssertEqual(StreamTime(seconds: 1.7e9)?.seconds, 1.7e9, "Unix-epoch capture times fit")
        for bad in [Double.nan, .infinity, -.infinity, 1e15, -1e13, 1e300] {
            XCTAssertNil(StreamTime(seconds: bad), "\(bad)")
            XCTAssertNotNil(StreamTime.refusal(bad), "\(bad)")
        }
        XCTAssertNil(StreamTime.refusal(12))
    }

    func testTicksOfATimeBaseConvertBothWaysAndOverflowIsNil() {
        // 90 kHz (MPEG-TS), 1/1000 (Matroska), 1001/30000 (NTSC frames).
        XCTAssertEqual(StreamTime(ticks: 90_000, numerator: 1, denominator: 90_000)?.microseconds, 1_000_000)
        XCTAssertEqual(StreamTime(ticks: 3, numerator: 1001, denominator: 30_000)?.microseconds, 100_100)
        XCTAssertEqual(StreamTime(seconds: 2.5)?.ticks(numerator: 1, denominator: 1000), 2500)
        XCTAssertEqual(StreamTime(seconds: -2.5)?.ticks(numerator: 1, denominator: 1000), -2500)
        XCTAssertNil(StreamTime(ticks: .max, numerator: 1, denominator: 90_000), "the product overflows")
        XCTAssertNil(StreamTime(ticks: 1 << 62, numerator: 1, denominator: 1), "beyond the range")
        XCTAssertNil(StreamTime(ticks: 1, numerator: 0, denominator: 1), "no time base")
        let limit = StreamTime(seconds: StreamTime.limitSeconds)!
        XCTAssertNil(limit.ticks(numerator: 1, denominator: 1 << 30), "too many ticks for Int64")
    }

    func testArithmeticStaysInRange() {
        let limit = StreamTime(seconds: StreamTime.limitSeconds)!, negative = StreamTime(seconds: -StreamTime.limitSeconds)!
        XCTAssertEqual((limit + limit).seconds, StreamTime.limitSeconds, "clamped, not overflowed")
        XCTAssertEqual((negative - limit).seconds, -StreamTime.limitSeconds)
        XCTAssertEqual(StreamTime.frameInterval(framesPerSecond: 30).microseconds, 33_333)
        XCTAssertEqual(StreamTime.frameInterval(framesPerSecond: .nan).microseconds, 33_333)
        XCTAssertEqual(StreamTime.frameInterval(framesPerSecond: 1e9).microseconds, 1000, "at most 1000 fps")
    }

    /// Several inputs on one line: a single input's times are kept exactly, a restart continues one
    /// frame interval after the last frame.
    func testContinuedTimesAcrossInputs() {
        var clock = StreamClock()
        let first = [0.0, 0.1, 0.2].map { clock.continued($0) }
        XCTAssertEqual(first, [0.0, 0.1, 0.2])
        let second = [0.0, 0.5].map { clock.continued($0) }
        XCTAssertEqual(second[0], 0.3, accuracy: 1e-12)
        XCTAssertEqual(second[1], 0.8, accuracy: 1e-12)
    }
}
