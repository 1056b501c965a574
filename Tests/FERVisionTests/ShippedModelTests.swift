import FERVision
import Foundation
import XCTest

/// The model in models/ on real faces: FER2013's test split from ../shared/data (skipped where absent).
final class ShippedModelTests: XCTestCase {
    func testShippedModelIsAccurateOnFER2013Test() throws {
        let model = try RealData.shippedModel(), data = try RealData.fer2013()
        BLAS.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
        defer { BLAS.setThreadCount(1) }
        let classifier = try EmotionClassifier(path: model)
        let test = try ImageFolder.load(data + "/test", threads: 2)
        XCTAssertEqual(test.count, 3589)
        // Every 4th image (897), to stay fast in debug builds; the model card has the full-split number.
        let subset = Array(stride(from: 0, to: test.count, by: 4))
        let predictions = classifier.classify(test, indices: subset)
        let correct = zip(subset, predictions).filter { index, prediction in
            classifier.classNames[prediction.topIndex] == test.classNames[test.labels[index]]
        }.count
        let accuracy = Double(correct) / Double(subset.count)
        print("shipped model: accuracy \(accuracy) on \(subset.count) FER2013 test images")
        XCTAssertGreaterThanOrEqual(accuracy, 0.60)
    }
}
