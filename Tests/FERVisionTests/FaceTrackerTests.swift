@testable import FERVision
import Foundation
import XCTest

/// Face indices across frames: a moving face keeps its index, a new face gets a new one, crossing faces
/// follow the overlap rule.
final class FaceTrackerTests: XCTestCase {
    func testMovingFaceKeepsItsIndexAndNewFacesGetNewOnes() {
        let tracker = FaceTracker()
        for step in 0..<40 {
            let moving = PixelRect(x: 50 + 6 * step, y: 100 + step, width: 100, height: 100)
            let faces = tracker.update(with: step < 20 ? [moving] : [PixelRect(x: 500, y: 300, width: 80, height: 80), moving])
            XCTAssertEqual(faces.map(\.index), step < 20 ? [0] : [1, 0], "frame \(step)")
        }
        // Gone for a few frames (missed detections), then back where it was: the same index.
        for _ in 0..<5 { _ = tracker.update(with: []) }
        XCTAssertEqual(tracker.update(with: [PixelRect(x: 500, y: 300, width: 80, height: 80)]).map(\.index), [1])
        // Gone for longer than the tracker's patience: a new face.
        for _ in 0...tracker.patience { _ = tracker.update(with: []) }
        XCTAssertEqual(tracker.update(with: [PixelRect(x: 500, y: 300, width: 80, height: 80)]).map(\.index), [2])
    }

    /// Two faces walk through each other. Every frame, each index goes to the detection overlapping its
    /// last box the most (the rule); until they first overlap, each index stays with its own face.
    func testCrossingFacesFollowTheOverlapRule() {
        let tracker = FaceTracker()
        var previous: [Int: PixelRect] = [:]
        var swapsBeforeContact = 0
        for step in 0..<40 {
            let a = PixelRect(x: 40 + 12 * step, y: 200, width: 100, height: 100)
            let b = PixelRect(x: 520 - 12 * step, y: 210, width: 100, height: 100)
            let detections = step % 2 == 0 ? [a, b] : [b, a]   // detection order must not matter
            let faces = tracker.update(with: detections)
            for face in faces {
                guard let last = previous[face.index] else { continue }
                let best = detections.map { $0.overlap(with: last) }.max()!
                if best >= tracker.minimumOverlap {
                    XCTAssertEqual(face.box.overlap(with: last), best, accuracy: 1e-12, "frame \(step): index \(face.index) left its best match")
                }
            }
            if a.overlap(with: b) == 0, step > 0, faces.first(where: { $0.box == a })?.index != 0 { swapsBeforeContact += 1 }
            previous = Dictionary(uniqueKeysWithValues: faces.map { ($0.index, $0.box) })
        }
        XCTAssertEqual(swapsBeforeContact, 0)
        XCTAssertEqual(Set(previous.keys), [0, 1], "two faces, two indices, none invented")
    }

    func testRealFaceMovingAcrossFramesKeepsItsIndex() throws {
        try XCTSkipIf(CascadeFiles.locate() == nil, "no face cascade (apt-get install opencv-data): skipping")
        let test = try ImageFolder.load(try RealData.fer2013() + "/test", threads: 2)
        let finder = FaceFinder(detector: try FaceDetectionTests.defaultCascade())
        let locator = CascadeFaceLocator(finder: finder)
        // A happy face (well detected) sliding 8 px per frame over a fixed background.
        let happy = test.labels.firstIndex(of: test.classNames.firstIndex(of: "happy")!)!
        let face = LinearResize.resize(ByteImage(width: 48, height: 48, pixels: Array(test.image(happy))), width: 150, height: 150)
        var indices: [Int] = []
        for step in 0..<30 {
            var pixels = [UInt8](repeating: 110, count: 640 * 480)
            let left = 60 + 8 * step
            for y in 0..<150 { for x in 0..<150 { pixels[(160 + y) * 640 + left + x] = face[y * 150 + x] } }
            let found = locator.locate(in: ByteImage(width: 640, height: 480, pixels: pixels))
            XCTAssertLessThanOrEqual(found.count, 1, "frame \(step): \(found)")
            indices += found.map(\.index)
        }
        XCTAssertGreaterThan(indices.count, 20, "the face was found in most frames")
        XCTAssertEqual(Set(indices), [0], "one face, one index throughout")
    }

    /// Live tracking: a second face that comes into view in a new place is found by the whole-frame
    /// search spread over `frames` frames, at most `2 * frames - 1` frames later, and gets its own index;
    /// when it leaves, it is dropped.
    func testLiveScheduleFindsANewFaceWithinItsBound() throws {
        try XCTSkipIf(CascadeFiles.locate() == nil, "no face cascade (apt-get install opencv-data): skipping")
        let test = try ImageFolder.load(try RealData.fer2013() + "/test", threads: 2)
        let finder = FaceFinder(detector: try FaceDetectionTests.defaultCascade())
        let happy = test.labels.indices.filter { test.labels[$0] == test.classNames.firstIndex(of: "happy")! }
        // Two faces the cascade finds when alone in a frame.
        let faces = happy.lazy.map { LinearResize.resize(ByteImage(width: 48, height: 48, pixels: Array(test.image($0))), width: 150, height: 150) }
            .filter { face in
                var pixels = [UInt8](repeating: 110, count: 640 * 480)
                for y in 0..<150 { for x in 0..<150 { pixels[(160 + y) * 640 + 60 + x] = face[y * 150 + x] } }
                return finder.faces(in: ByteImage(width: 640, height: 480, pixels: pixels)).count == 1
            }.prefix(2)
        let (first, second) = (Array(faces)[0], Array(faces)[1])
        let frames = 3
        let locator = CascadeFaceLocator(finder: finder, schedule: .spread(frames: frames))
        var foundSecondAt: Int?, secondIndex: Int?
        for step in 0..<24 {
            var pixels = [UInt8](repeating: 110, count: 640 * 480)
            for y in 0..<150 { for x in 0..<150 { pixels[(160 + y) * 640 + 60 + x] = first[y * 150 + x] } }
            let secondVisible = (3..<16).contains(step)
            if secondVisible { for y in 0..<150 { for x in 0..<150 { pixels[(100 + y) * 640 + 420 + x] = second[y * 150 + x] } } }
            let found = locator.locate(in: ByteImage(width: 640, height: 480, pixels: pixels))
            let right = found.filter { $0.box.x > 320 }
            if secondVisible, let face = right.first, foundSecondAt == nil { (foundSecondAt, secondIndex) = (step, face.index) }
            if step >= 20 { XCTAssert(right.isEmpty, "frame \(step): the second face left, but \(right) is still reported") }
            XCTAssert(found.contains { $0.box.x < 320 }, "frame \(step): the first face was lost")
        }
        let delay = try XCTUnwrap(foundSecondAt, "the new face was never found") - 3
        XCTAssertLessThanOrEqual(delay, 2 * frames - 1, "a new face waited \(delay) frames for a whole-frame search")
        XCTAssertNotEqual(secondIndex, 0, "the new face has its own index")
    }

    /// A scene cut: the face jumps to a new place. The old place is searched for only `searchPatience`
    /// frames; then, with nothing followed, the whole frame is searched and the face found at once, not
    /// after a spread search's cycle (up to `2 * frames - 1` frames).
    func testSceneCutFindsTheFaceAtItsNewPlaceWithinTheSearchPatience() throws {
        try XCTSkipIf(CascadeFiles.locate() == nil, "no face cascade (apt-get install opencv-data): skipping")
        let test = try ImageFolder.load(try RealData.fer2013() + "/test", threads: 2)
        let finder = FaceFinder(detector: try FaceDetectionTests.defaultCascade())
        let happy = test.labels.indices.filter { test.labels[$0] == test.classNames.firstIndex(of: "happy")! }
        func frame(_ face: [UInt8], left: Int, top: Int) -> ByteImage {
            var pixels = [UInt8](repeating: 110, count: 640 * 480)
            for y in 0..<150 { for x in 0..<150 { pixels[(top + y) * 640 + left + x] = face[y * 150 + x] } }
            return ByteImage(width: 640, height: 480, pixels: pixels)
        }
        // A face the cascade finds alone in a frame, at both places.
        let face = try XCTUnwrap(happy.lazy.map { LinearResize.resize(ByteImage(width: 48, height: 48, pixels: Array(test.image($0))), width: 150, height: 150) }
            .first { face in [(60, 160), (430, 40)].allSatisfy { finder.faces(in: frame(face, left: $0.0, top: $0.1)).count == 1 } })
        let locator = CascadeFaceLocator(finder: finder, schedule: .spread(frames: 8), searchPatience: 1)
        let cut = 9   // when a spread cycle starts (frame 0 searches all, 1-8 the first cycle)
        var foundAfterCut: Int?
        for step in 0..<(cut + 12) {
            let found = locator.locate(in: step < cut ? frame(face, left: 60, top: 160) : frame(face, left: 430, top: 40))
            if step < cut { XCTAssertEqual(found.count, 1, "frame \(step): the face before the cut") }
            if step >= cut, foundAfterCut == nil, found.contains(where: { $0.box.x > 320 }) { foundAfterCut = step - cut }
        }
        let delay = try XCTUnwrap(foundAfterCut, "the face was never found after the cut")
        XCTAssertLessThanOrEqual(delay, locator.searchPatience + 1, "the cut's face waited \(delay) frames")
    }
}

