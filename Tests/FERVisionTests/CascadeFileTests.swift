@testable import FERVision
import Foundation
import XCTest

/// Cascade files: a tiny hand-written cascade that detects what it was built for, and malformed files
/// that must fail with the file and element named.
final class CascadeFileTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-cascade-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// One stage, one stump on a two-rectangle feature: "left half darker than right half" in a 24x24
    /// window (the left rectangle counts -1 over the whole window, the right half +2).
    static func cascadeXML(stageThreshold: String = "0.5", internalNodes: String = "0 -1 0 0.1", leafValues: String = "-1. 1.",
                           featureType: String = "HAAR", stageType: String = "BOOST", rects: String = "<_>0 0 24 24 -1.</_><_>12 0 12 24 2.</_>",
                           tilted: String = "0", side: Int = 24) -> String {
        """
        <?xml version="1.0"?>
        <opencv_storage>
        <cascade type_id="opencv-cascade-classifier"><stageType>\(stageType)</stageType>
          <featureType>\(featureType)</featureType><height>\(side)</height><width>\(side)</width>
          <stageParams><maxWeakCount>1</maxWeakCount></stageParams>
          <featureParams><maxCatCount>0</maxCatCount></featureParams>
          <stageNum>1</stageNum>
          <stages><_><maxWeakCount>1</maxWeakCount><stageThreshold>\(stageThreshold)</stageThreshold>
            <weakClassifiers><_><internalNodes>\(internalNodes)</internalNodes><leafValues>\(leafValues)</leafValues></_></weakClassifiers></_></stages>
          <features><_><rects>\(rects)</rects><tilted>\(tilted)</tilted></_></features>
        </cascade>
        </opencv_storage>
        """
    }

    private func write(_ text: String, _ name: String = "cascade.xml") throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testHandWrittenCascadeFindsItsPattern() throws {
        let detector = try CascadeDetector(contentsOf: try write(Self.cascadeXML()))
        XCTAssertEqual(detector.cascade.stageCount, 1)
        // A 96x96 square, dark left half and bright right half, on a mid-gray, slightly noisy frame.
        var random = SplitMix64(seed: 3)
        var pixels = (0..<(320 * 240)).map { _ in UInt8(120 + Int(random.next() % 16)) }
        for y in 60..<156 { for x in 100..<196 { pixels[y * 320 + x] = x < 148 ? 30 : 220 } }
        let faces = detector.detect(ByteImage(width: 320, height: 240, pixels: pixels),
                                    parameters: DetectionParameters(scaleFactor: 1.1, minNeighbors: 3, minSize: 24))
        let pattern = PixelRect(x: 100, y: 60, width: 96, height: 96)
        // Windows straddling the dark-to-bright edge all fire and group into one box on the pattern.
        XCTAssertEqual(faces.count, 1, "\(faces)")
        XCTAssertGreaterThan(faces.first.map { $0.box.overlap(with: pattern) } ?? 0, 0.3, "\(faces)")
        XCTAssertFalse(faces.contains { $0.box.overlap(with: pattern) == 0 }, "nothing on the flat background: \(faces)")
    }

    func testMalformedFilesNameTheFileAndTheElement() throws {
        let cases: [(String, String, String)] = [
            ("not xml", "<opencv_storage><cascade>", "not well-formed XML"),
            ("old format", "<?xml version=\"1.0\"?><opencv_storage><haar><size>24 24</size></haar></opencv_storage>", "old-format"),
            ("stage type", Self.cascadeXML(stageType: "GENTLE"), "<cascade/stageType>: 'GENTLE' is not BOOST"),
            ("feature type", Self.cascadeXML(featureType: "HOG"), "<cascade/featureType>: 'HOG' is not HAAR or LBP"),
            ("node count", Self.cascadeXML(internalNodes: "0 -1 0"), "<cascade/stages/_[0]/weakClassifiers/_[0]/internalNodes>: 3 numbers"),
            ("feature index", Self.cascadeXML(internalNodes: "0 -1 5 0.1"), "feature 5 does not exist"),
            ("leaves", Self.cascadeXML(leafValues: "1."), "1 leaves for 1 splits"),
            ("threshold", Self.cascadeXML(stageThreshold: "high"), "<cascade/stages/_[0]/stageThreshold>: 'high' is not a finite number"),
            ("no threshold", Self.cascadeXML(stageThreshold: ""), "<cascade/stages/_[0]>: has no numeric <stageThreshold>"),
            ("rect outside", Self.cascadeXML(rects: "<_>0 0 30 24 -1.</_><_>12 0 12 24 2.</_>"), "<cascade/features/_[0]/rects/_[0]>: rectangle leaves"),
            ("tilted", Self.cascadeXML(tilted: "1"), "tilted (45 degree) Haar features are not supported"),
            // A window whose sum of squares would wrap the integral image's 32 bits.
            ("huge window", Self.cascadeXML(side: 300), "window 300x300 is not usable (2 < side <= 256)"),
            // Numbers that are not numbers, or not the kind of number the field holds: never a trap, a
            // hang or a silently wrong detector.
            ("nan threshold", Self.cascadeXML(stageThreshold: "nan"), "<cascade/stages/_[0]/stageThreshold>: 'nan' is not a finite number"),
            ("infinite leaf", Self.cascadeXML(leafValues: "-1. inf"), "leafValues>: 'inf' is not a finite number"),
            ("huge leaf", Self.cascadeXML(leafValues: "-1. 1e300"), "leafValues>: '1e300' is not a finite number"),
            ("word in nodes", Self.cascadeXML(internalNodes: "0 -1 0 x"), "internalNodes>: 'x' is not a finite number"),
            ("dropped token", Self.cascadeXML(internalNodes: "0 -1 0 0.1 7"), "internalNodes>: 5 numbers"),
            ("huge child", Self.cascadeXML(internalNodes: "1e30 -1 0 0.1"), "child 1e+30 is not a 32-bit integer"),
            ("int min child", Self.cascadeXML(internalNodes: "-9223372036854775808 -1 0 0.1"), "is not a 32-bit integer"),
            ("fractional feature", Self.cascadeXML(internalNodes: "0 -1 0.5 0.1"), "feature 0.5 is not a 32-bit integer"),
            ("self loop", Self.cascadeXML(internalNodes: "1 -1 0 0.1 1 -2 0 0.2", leafValues: "-1. 1. 0.5"),
             "node 1's child 1 is not a later node or a leaf"),
            ("cycle", Self.cascadeXML(internalNodes: "1 -1 0 0.1 2 -2 0 0.2 1 -3 0 0.3", leafValues: "-1. 1. 0.5 0.2"),
             "node 2's child 1 is not a later node"),
            ("nan weight", Self.cascadeXML(rects: "<_>0 0 24 24 nan</_><_>12 0 12 24 2.</_>"), "rects/_[0]>: 'nan' is not a finite number"),
            ("huge rect", Self.cascadeXML(rects: "<_>0 0 1e20 24 -1.</_><_>12 0 12 24 2.</_>"), "rects/_[0]>: width 1e+20 is not a 32-bit integer"),
            ("overflowing rect", Self.cascadeXML(rects: "<_>2147483647 0 2147483647 24 -1.</_><_>12 0 12 24 2.</_>"), "rectangle leaves"),
        ]
        for (name, text, expected) in cases {
            let path = try write(text, "\(name).xml")
            do {
                _ = try Cascade.load(contentsOf: path)
                XCTFail("\(name): loaded")
            } catch {
                XCTAssert(error.description.hasPrefix(path + ": "), "\(name): \(error)")
                XCTAssert(error.description.contains(expected), "\(name): \(error)")
            }
        }
        XCTAssertThrowsError(try Cascade.load(contentsOf: folder.appendingPathComponent("missing.xml").path)) { error in
            XCTAssert("\(error)".contains("missing.xml: no such file"), "\(error)")
        }
    }

    func testOpenCVsFrontalFaceCascadesLoad() throws {
        let haar = try XCTUnwrap(CascadeFiles.locate(), "")
        try XCTSkipUnless(FileManager.default.fileExists(atPath: haar), "no opencv-data: skipping")
        let cascade = try Cascade.load(contentsOf: haar)
        XCTAssertEqual(cascade.stageCount, 25)
        XCTAssertEqual(cascade.trees.count, 2913)
        XCTAssertTrue(cascade.isStumps)
        let lbp = (haar as NSString).deletingLastPathComponent + "/../lbpcascades/lbpcascade_frontalface_improved.xml"
        if FileManager.default.fileExists(atPath: lbp) {
            let improved = try Cascade.load(contentsOf: lbp)
            XCTAssertEqual(improved.featureType, .lbp)
            XCTAssertEqual(improved.trees.count, 149)
        }
    }
}
