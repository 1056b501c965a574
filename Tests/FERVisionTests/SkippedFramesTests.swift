import FERVision
import XCTest

/// A day of dropped camera frames, or a looping folder with one corrupt file, keeps a bounded list: the
/// first reasons and the whole count.
final class SkippedFramesTests: XCTestCase {
    private func error(_ index: Int) -> ImageError { ImageError(.corrupt, path: "camera frame \(index)", "never delivered") }

    func testKeepsTheFirstReasonsAndCountsThemAll() {
        var skipped = SkippedFrames()
        XCTAssert(skipped.isEmpty)
        for index in 0..<250_000 { skipped.append(error(index)) }
        XCTAssertEqual(skipped.count, 250_000)
        XCTAssertEqual(Array(skipped).count, SkippedFrames.kept)
        XCTAssertEqual(Array(skipped).map(\.path), (0..<SkippedFrames.kept).map { "camera frame \($0)" })
    }

    func testASequenceOfInputsAddsUpWithinTheBound() {
        var first = SkippedFrames(), second = SkippedFrames()
        for index in 0..<60 { first.append(error(index)) }
        for index in 60..<130 { second.append(error(index)) }
        first.append(contentsOf: second)
        XCTAssertEqual(first.count, 130)
        XCTAssertEqual(Array(first).map(\.path), (0..<SkippedFrames.kept).map { "camera frame \($0)" })
    }
}
