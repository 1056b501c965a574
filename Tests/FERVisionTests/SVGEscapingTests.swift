@testable import FERVision
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// Every SVG writer escapes what it did not write itself (class names from a model's metadata, titles from
/// paths): the documents stay well-formed XML whatever the names hold.
final class SVGEscapingTests: XCTestCase {
    private let hostile = ["a<b", "c&d", "\"e'", "f>g", "h", "i", "j"]

    private func assertWellFormed(_ svg: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "\(what): \(parser.parserError.map { "\($0)" } ?? "not well-formed")", file: file, line: line)
        XCTAssert(svg.contains("a&lt;b") && svg.contains("c&amp;d"), "\(what) shows the names escaped", file: file, line: line)
    }

    func testEveryWriterEscapesNamesAndTitles() {
        let confusion = ClassificationReport(classNames: hostile, labels: [0, 1, 2, 3], predictions: [0, 1, 3, 3])
        assertWellFormed(confusion.confusionSVG, "confusion matrix")
        let reliability = ReliabilityReport(probabilities: [0.9, 0.1, 0, 0, 0, 0, 0, 0.2, 0.8, 0, 0, 0, 0, 0], labels: [0, 1], classes: 7)
        assertWellFormed(reliability.svg(title: "run a<b & c&d"), "reliability diagram")
        var timeline = EmotionTimeline(classNames: hostile)
        for i in 0..<10 { timeline.add(timestamp: Double(i) / 10, faces: [(0, [0.5, 0.5, 0, 0, 0, 0, 0], 0)]) }
        assertWellFormed(timeline.svg(title: "a<b c&d"), "timeline")
        let plot = LinePlot(title: "a<b", xLabel: "c&d", yLabel: "\"e'", series: [("f>g", [0, 1], [1, 2], "#000")])
        assertWellFormed(plot.svg, "line plot")
    }
}
