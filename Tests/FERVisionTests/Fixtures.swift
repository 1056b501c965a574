import FERVision
import Foundation
import XCTest

/// The PyTorch reference fixtures written by tools/make_fixtures.py.
enum Fixtures {
    static let version = "1"
    static let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

    static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    /// Tensors and metadata of a fixture safetensors file, checked for the expected fixture version.
    static func tensors(_ name: String) throws -> StateDict {
        let (tensors, metadata) = try SafeTensors.decode(try Data(contentsOf: URL(fileURLWithPath: path(name))), path: name)
        guard metadata?["fixture_version"] == version else {
            throw FixtureMismatch(description: "\(name) is fixture version \(metadata?["fixture_version"] ?? "none"), tests expect \(version): regenerate with tools/make_fixtures.py (its header says how)")
        }
        return tensors
    }
}

/// A fixture written by another version of tools/make_fixtures.py: a failure, never a skip, so parity
/// tests cannot quietly stop checking.
struct FixtureMismatch: Error, CustomStringConvertible {
    let description: String
}

/// The shipped model and the shared FER2013 copy, for tests on real faces (each skips when absent).
enum RealData {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// models/ in the repository; skips the test when no model ships there.
    static func shippedModel() throws -> String {
        let path = repository.appendingPathComponent("models/\(DefaultModel.fileName)").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "no model shipped at \(path) yet")
        return path
    }

    /// ../shared/data/fer2013 beside the repository (or $FER2013_DIR); skips the test when it is absent.
    static func fer2013() throws -> String {
        let path = ProcessInfo.processInfo.environment["FER2013_DIR"]
            ?? repository.deletingLastPathComponent().appendingPathComponent("shared/data/fer2013").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path + "/test"),
                          "FER2013 is not at \(path) (../shared/data/fer2013 beside the repository, or $FER2013_DIR): skipping")
        return path
    }
}

/// Largest absolute difference between two equally long arrays, with where it is.
func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> (value: Float, index: Int) {
    precondition(a.count == b.count, "compared arrays differ in length: \(a.count) vs \(b.count)")
    var worst: (Float, Int) = (0, -1)
    for i in a.indices where abs(a[i] - b[i]) > worst.0 || a[i].isNaN != b[i].isNaN { worst = (abs(a[i] - b[i]), i) }
    return worst
}

/// Asserts two arrays agree within `tolerance`, reporting the worst element.
func assertClose(_ actual: [Float], _ expected: [Float], tolerance: Float, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        return XCTFail("\(what): \(actual.count) values, expected \(expected.count)", file: file, line: line)
    }
    let worst = maxAbsoluteDifference(actual, expected)
    XCTAssert(worst.value <= tolerance,
              "\(what): worst difference \(worst.value) at \(worst.index) (\(actual[max(0, worst.index)]) vs \(expected[max(0, worst.index)])), tolerance \(tolerance)",
              file: file, line: line)
}

/// Asserts two state dicts hold the same names in the same order and bit-identical tensors, naming the
/// first difference (not dumping megabytes of numbers).
func assertIdentical(_ a: StateDict, _ b: StateDict, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.names, b.names, "names or their order differ", file: file, line: line)
    for entry in a.entries {
        guard let other = b[entry.name] else { continue }
        if entry.tensor.shape != other.tensor.shape || entry.isInteger != other.isInteger {
            return XCTFail("'\(entry.name)': shape \(entry.tensor.shape) vs \(other.tensor.shape)", file: file, line: line)
        }
        if let i = entry.tensor.scalars.indices.first(where: { entry.tensor.scalars[$0].bitPattern != other.tensor.scalars[$0].bitPattern }) {
            return XCTFail("'\(entry.name)' element \(i): \(entry.tensor.scalars[i]) vs \(other.tensor.scalars[i])", file: file, line: line)
        }
    }
}
