@testable import FERVision
import Foundation
import XCTest

/// The cascade detector on real faces (FER2013 faces placed in composed frames), and its building blocks.
final class FaceDetectionTests: XCTestCase {
    static func defaultCascade() throws -> CascadeDetector {
        let path = try XCTUnwrap(CascadeFiles.locate(), "")
        return try CascadeDetector(contentsOf: path)
    }

    private func detectorOrSkip() throws -> CascadeDetector {
        try XCTSkipIf(CascadeFiles.locate() == nil, "no face cascade (apt-get install opencv-data): skipping")
        return try Self.defaultCascade()
    }

    func testFindsPlacedFacesInComposedFrames() throws {
        let detector = try detectorOrSkip()
        let test = try ImageFolder.load(try RealData.fer2013() + "/test", threads: 2)
        let scenes = FaceScenes.compose(count: 60, from: test, seed: 7)
        let placed = scenes.map(\.faces.count).reduce(0, +)
        for (name, finder) in [("full frame", FaceFinder(detector: detector, searchWidth: nil)),
                               ("searched at 320 wide", FaceFinder(detector: detector))] {
            var found = 0, falsePositives = 0
            for scene in scenes {
                let boxes = finder.faces(in: scene.image)
                let hits = FaceScenes.matches(boxes, scene.faces, threshold: 0.3)
                found += hits
                falsePositives += boxes.count - hits
            }
            let recall = Double(found) / Double(placed), perFrame = Double(falsePositives) / Double(scenes.count)
            print("\(name): recall \(recall) of \(placed) faces, \(perFrame) false positives per frame")
            // OpenCV itself finds about three quarters of such faces (benchmarks/detection_parity.py).
            XCTAssertGreaterThanOrEqual(recall, 0.65, name)
            XCTAssertLessThanOrEqual(perFrame, 0.35, name)
        }
    }

    /// Searching only near last frame's faces finds the faces the full search finds, at a fraction of the cost.
    func testSearchNearKnownFacesFindsThemAgain() throws {
        let finder = FaceFinder(detector: try detectorOrSkip())
        let test = try ImageFolder.load(try RealData.fer2013() + "/test", threads: 2)
        var full = 0, near = 0, fullTime = 0.0, nearTime = 0.0
        for scene in FaceScenes.compose(count: 40, from: test, seed: 21) {
            var start = MonotonicClock.seconds()
            let everywhere = finder.faces(in: scene.image)
            fullTime += MonotonicClock.seconds() - start
            // Last frame's boxes: this frame's, moved a little, as a face does between frames.
            let previous = everywhere.map { PixelRect(x: $0.x + 6, y: $0.y - 4, width: $0.width, height: $0.height) }
            start = MonotonicClock.seconds()
            let again = finder.faces(in: scene.image, near: previous)
            nearTime += MonotonicClock.seconds() - start
            full += everywhere.count
            near += FaceScenes.matches(again, everywhere, threshold: 0.5)
        }
        print("near search: found \(near) of \(full) faces again; \(nearTime / fullTime) of the full search's time")
        XCTAssertGreaterThanOrEqual(Double(near), 0.9 * Double(full))
    }

    /// The stump scanner's batches of eight windows find, at every scale and both window steps, exactly
    /// the windows the general evaluator finds judging one window at a time (OpenCV's arithmetic and
    /// column skipping), in the same order: on faces, textured background and a flat band no window
    /// there can be judged in.
    func testBatchedStumpScanFindsWhatTheEvaluatorFindsWindowByWindow() throws {
        let detector = try detectorOrSkip()
        let test = try ImageFolder.load(try RealData.fer2013() + "/test", threads: 2)
        var hitsByStep = [1: 0, 2: 0]
        for scene in FaceScenes.compose(count: 4, from: test, seed: 5) {
            var pixels = scene.image.pixels
            for index in (100 * 640)..<(150 * 640) { pixels[index] = 128 }
            for image in [ByteImage(width: 640, height: 480, pixels: pixels),
                          ByteImage(width: 320, height: 240, pixels: LinearResize.resize(scene.image, width: 320, height: 240))] {
                let plan = try XCTUnwrap(detector.plan(for: image, parameters: DetectionParameters(minSize: 24)))
                let scanner = try XCTUnwrap(HaarStumpScanner(cascade: detector.cascade, stride: plan.stride))
                for scale in plan.scales {
                    let batched = detector.detections(in: image, scale: scale, stripes: plan.stripes, stride: plan.stride, scanner: scanner)
                    let alone = detector.detections(in: image, scale: scale, stripes: plan.stripes, stride: plan.stride, scanner: nil)
                    XCTAssertTrue(batched == alone, "scale \(scale) of a \(image.width)-wide frame: \(batched.count) hits, not \(alone.count)")
                    hitsByStep[scale >= 2 ? 1 : 2, default: 0] += alone.count
                }
            }
        }
        // Not vacuous: windows pass every stage at both steps.
        XCTAssertGreaterThan(hitsByStep[1] ?? 0, 10)
        XCTAssertGreaterThan(hitsByStep[2] ?? 0, 10)
    }

    /// `cascade` with only its first `stages` stages: it accepts far more windows.
    private static func cut(_ cascade: Cascade, toStages stages: Int) -> Cascade {
        Cascade(featureType: cascade.featureType, windowWidth: cascade.windowWidth, windowHeight: cascade.windowHeight,
                stages: Array(cascade.stages.prefix(stages)), trees: cascade.trees, nodes: cascade.nodes, leaves: cascade.leaves,
                subsets: cascade.subsets, haarFeatures: cascade.haarFeatures, lbpBlocks: cascade.lbpBlocks)
    }

    /// The same with the face cascade cut to its first stages, on textured frames without faces: so many
    /// windows pass that OpenCV's walk (the column after a first-stage rejection is skipped) and every
    /// hand-over from eight lanes to single windows decide which of them are hits.
    func testBatchedStumpScanKeepsOpenCVsWalkOnCascadesCutShort() throws {
        let full = try detectorOrSkip().cascade
        var random = SplitMix64(seed: 3)
        let coarse = ByteImage(width: 16, height: 12, pixels: (0..<(16 * 12)).map { _ in UInt8(40 + random.next() % 160) })
        var pixels = LinearResize.resize(coarse, width: 320, height: 240).map { UInt8(clamping: Int($0) + Int(random.next() % 41) - 20) }
        for index in (60 * 320)..<(90 * 320) { pixels[index] = 128 }
        let image = ByteImage(width: 320, height: 240, pixels: pixels)
        for stages in [1, 2, 3, 5] {
            let cut = Self.cut(full, toStages: stages)
            let detector = CascadeDetector(cascade: cut)
            let plan = try XCTUnwrap(detector.plan(for: image, parameters: DetectionParameters(minSize: 24)))
            let scanner = try XCTUnwrap(HaarStumpScanner(cascade: cut, stride: plan.stride))
            var hits = 0
            for scale in plan.scales {
                let batched = detector.detections(in: image, scale: scale, stripes: plan.stripes, stride: plan.stride, scanner: scanner)
                let alone = detector.detections(in: image, scale: scale, stripes: plan.stripes, stride: plan.stride, scanner: nil)
                XCTAssertTrue(batched == alone, "\(stages) stages, scale \(scale): \(batched.count) hits, not \(alone.count)")
                hits += alone.count
            }
            XCTAssertGreaterThan(hits, 1000, "\(stages) stages")
        }
    }

    /// A search split over threads (the detector's own, or Dispatch's when two searches share the
    /// detector at once) returns the serial search's hits in the serial order, search after search.
    func testSearchOnSeveralThreadsReturnsTheSerialHits() throws {
        let full = try detectorOrSkip().cascade
        // Cut to three stages: thousands of hits, so an order or a scale lost would show.
        let detector = CascadeDetector(cascade: Self.cut(full, toStages: 3))
        var random = SplitMix64(seed: 9)
        let image = ByteImage(width: 320, height: 240, pixels: (0..<(320 * 240)).map { _ in UInt8(60 + random.next() % 140) })
        let plan = try XCTUnwrap(detector.plan(for: image, parameters: DetectionParameters(minSize: 24)))
        let serial = detector.hits(in: image, plan: plan, scales: plan.scales.indices, threads: 1)
        XCTAssertGreaterThan(serial.count, 1000)
        for threads in [2, 3, 2] {
            XCTAssertTrue(detector.hits(in: image, plan: plan, scales: plan.scales.indices, threads: threads) == serial, "\(threads) threads")
        }
        let together = Locked([[PixelRect]]())
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let hits = detector.hits(in: image, plan: plan, scales: plan.scales.indices, threads: 2)
            together.withLock { $0.append(hits) }
        }
        XCTAssertTrue(together.withLock { $0 } == [serial, serial], "two searches at once")
    }

    /// The LBP path (local binary patterns, category subsets) on the same kind of frames.
    func testLBPCascadeFindsFacesToo() throws {
        let haar = try XCTUnwrap(CascadeFiles.locate() ?? nil, "no face cascade (apt-get install opencv-data)")
        let path = (haar as NSString).deletingLastPathComponent + "/../lbpcascades/lbpcascade_frontalface_improved.xml"
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "no LBP cascade at \(path): skipping")
        let finder = FaceFinder(detector: try CascadeDetector(contentsOf: path), searchWidth: nil)
        let test = try ImageFolder.load(try RealData.fer2013() + "/test", threads: 2)
        let scenes = FaceScenes.compose(count: 60, from: test, seed: 11)
        let found = scenes.map { FaceScenes.matches(finder.faces(in: $0.image), $0.faces, threshold: 0.3) }.reduce(0, +)
        let recall = Double(found) / Double(scenes.map(\.faces.count).reduce(0, +))
        print("LBP: recall \(recall)")
        // OpenCV's own recall with this cascade on such frames is about 0.62 (benchmarks/detection_parity.py).
        XCTAssertGreaterThanOrEqual(recall, 0.45)
    }

    func testScalesMatchOpenCVsSchedule() throws {
        let detector = try detectorOrSkip()
        // 24 px windows, minSize 40, 640x480: from 1.1^6 (42 px) while the window fits the frame.
        let scales = detector.scales(width: 640, height: 480, parameters: DetectionParameters())
        XCTAssertEqual(scales.first!, Float(pow(1.1, 6.0)), accuracy: 1e-5)
        XCTAssertEqual(Int((24 * Double(scales.last!)).rounded()), 461, "1.1^31: the largest window within 480 rows")
        XCTAssertEqual(scales.count, 31 - 6 + 1)
    }

    func testGroupingKeepsClustersWithEnoughNeighbors() {
        let cluster = (0..<6).map { PixelRect(x: 100 + $0, y: 100 - $0 % 2, width: 50 + $0 % 3, height: 50 + $0 % 3) }
        let pair = [PixelRect(x: 300, y: 300, width: 40, height: 40), PixelRect(x: 301, y: 300, width: 40, height: 40)]
        let grouped = RectangleGrouping.group(cluster + pair, minNeighbors: 3)
        XCTAssertEqual(grouped.count, 1, "the pair has too few neighbors")
        XCTAssertEqual(grouped.first?.neighbors, 6)
        XCTAssertEqual(grouped.first?.rect, PixelRect(x: 102, y: 100, width: 51, height: 51), "the cluster's average")
        // A small cluster inside a stronger large one is dropped.
        let inner = (0..<4).map { _ in PixelRect(x: 120, y: 120, width: 20, height: 20) }
        XCTAssertEqual(RectangleGrouping.group(cluster + inner, minNeighbors: 3).count, 1)
        XCTAssertEqual(RectangleGrouping.group(cluster, minNeighbors: 0).count, 6, "minNeighbors 0 returns raw hits")
    }

    func testLinearResizeKeepsFlatImagesFlatAndAveragesHalves() {
        let flat = ByteImage(width: 9, height: 7, pixels: [UInt8](repeating: 77, count: 63))
        XCTAssertEqual(Set(LinearResize.resize(flat, width: 4, height: 3)), [77])
        // 2:1 horizontally: every output pixel sits between two source pixels, half of each.
        let stripes = ByteImage(width: 4, height: 1, pixels: [0, 100, 50, 150])
        XCTAssertEqual(LinearResize.resize(stripes, width: 2, height: 1), [50, 100])
    }

    func testSquareCropGrowsAndStaysInsideTheFrame() {
        let box = PixelRect(x: 100, y: 100, width: 100, height: 100)
        XCTAssertEqual(box.squareCrop(margin: 0.1, frameWidth: 640, frameHeight: 480), PixelRect(x: 90, y: 90, width: 120, height: 120))
        let corner = PixelRect(x: 0, y: 0, width: 100, height: 100)
        XCTAssertEqual(corner.squareCrop(margin: 0.1, frameWidth: 640, frameHeight: 480), PixelRect(x: 0, y: 0, width: 120, height: 120))
        let big = PixelRect(x: 100, y: 0, width: 470, height: 470)
        XCTAssertEqual(big.squareCrop(margin: 0.1, frameWidth: 640, frameHeight: 480).height, 480, "no larger than the frame")
    }
}
