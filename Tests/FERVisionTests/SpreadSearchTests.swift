@testable import FERVision
import XCTest

/// The whole-frame search spread over frames: the same faces as one search, the work split evenly.
final class SpreadSearchTests: XCTestCase {
    /// A still scene searched a part per frame gives, when the last part is in, exactly the faces one
    /// whole search gives, and nothing before.
    func testStillFrameSearchedInPartsFindsWhatOneSearchFinds() throws {
        try XCTSkipIf(CascadeFiles.locate() == nil, "no face cascade (apt-get install opencv-data): skipping")
        let test = try ImageFolder.load(try RealData.fer2013() + "/test", threads: 2)
        for threads in [1, 2] {
            let finder = FaceFinder(detector: try FaceDetectionTests.defaultCascade(), threads: threads)
            var faces = 0
            for scene in FaceScenes.compose(count: 12, from: test, seed: 5) {
                let whole = finder.faces(in: scene.image)
                let spread = SpreadSearch(finder: finder, parts: 4)
                for part in 0..<3 { XCTAssertNil(spread.advance(with: scene.image), "part \(part) alone is not a search") }
                XCTAssertEqual(spread.advance(with: scene.image), whole)
                // The next cycle starts over.
                XCTAssertNil(spread.advance(with: scene.image))
                faces += whole.count
            }
            XCTAssertGreaterThan(faces, 8, "the scenes have faces to find")
        }
    }

    /// A frame of another size mid-cycle starts a cycle of its own: hits of different sizes never mix.
    func testNewFrameSizeStartsANewCycle() throws {
        try XCTSkipIf(CascadeFiles.locate() == nil, "no face cascade (apt-get install opencv-data): skipping")
        let finder = FaceFinder(detector: try FaceDetectionTests.defaultCascade())
        let spread = SpreadSearch(finder: finder, parts: 3)
        let small = ByteImage(width: 320, height: 240, pixels: [UInt8](repeating: 90, count: 320 * 240))
        let large = ByteImage(width: 640, height: 360, pixels: [UInt8](repeating: 90, count: 640 * 360))
        XCTAssertNil(spread.advance(with: small))
        XCTAssertNil(spread.advance(with: large))
        XCTAssertNil(spread.advance(with: large))
        XCTAssertEqual(spread.advance(with: large), [])
    }

    /// The runs cover every scale once, in order, and none carries much more than its share.
    func testRunsCoverEveryScaleOnceAndShareTheWork() throws {
        try XCTSkipIf(CascadeFiles.locate() == nil, "no face cascade (apt-get install opencv-data): skipping")
        let detector = try FaceDetectionTests.defaultCascade()
        let gray = ByteImage(width: 320, height: 240, pixels: [UInt8](repeating: 0, count: 320 * 240))
        let plan = try XCTUnwrap(detector.plan(for: gray, parameters: DetectionParameters(minSize: 20)))
        let costs = plan.scales.map { detector.windowCount(plan, scale: $0) }
        XCTAssertGreaterThan(costs.count, 10)
        let total = costs.reduce(0, +)
        for parts in 1...6 {
            let runs = SpreadSearch.balancedRuns(costs, parts: parts)
            XCTAssertEqual(runs.count, parts)
            XCTAssertEqual(runs.first?.lowerBound, 0)
            XCTAssertEqual(runs.last?.upperBound, costs.count)
            for (a, b) in zip(runs, runs.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
            XCTAssert(runs.allSatisfy { !$0.isEmpty })
            let largest = runs.map { costs[$0].reduce(0, +) }.max()!
            XCTAssertLessThanOrEqual(largest, total / parts + costs.max()!, "parts \(parts): \(runs)")
        }
        XCTAssertEqual(SpreadSearch.balancedRuns([5, 1], parts: 4), [0..<1, 1..<2], "never more runs than scales")
        XCTAssertEqual(SpreadSearch.balancedRuns([1, 1, 1, 100], parts: 3).last, 3..<4, "the big scale alone")
        XCTAssertEqual(SpreadSearch.balancedRuns([100, 1, 1, 1], parts: 2), [0..<1, 1..<4])
    }
}
