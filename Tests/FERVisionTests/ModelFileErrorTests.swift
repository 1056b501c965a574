import FERVision
import Foundation
import XCTest

/// Every way a model file can be wrong gives one error naming the file (and key), never a crash.
final class ModelFileErrorTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-model-errors-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// A valid narrow model's state dict to break in different ways.
    private func validStateDict() -> StateDict {
        .initialized(ResNet9Architecture(inputChannels: 1, classCount: 7, widths: [2, 4, 4, 8]), seed: 3)
    }

    private func write(_ data: Data, _ name: String = "model.safetensors") throws -> String {
        let path = folder.appendingPathComponent(name).path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Loads and returns the error, failing the test if loading succeeds.
    private func loadError(_ path: String, overrides: ModelOverrides = .init(), file: StaticString = #filePath, line: UInt = #line) -> ModelFileError? {
        do {
            _ = try ModelLoader.load(path: path, overrides: overrides)
            XCTFail("loading \(path) succeeded", file: file, line: line)
            return nil
        } catch {
            XCTAssert(error.description.hasPrefix(path), "error does not name the file: \(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "error is not one line: \(error)", file: file, line: line)
            return error
        }
    }

    /// Rewrites the JSON header of a valid file (keeping the data bytes), for header-level corruption.
    private func withHeader(_ edit: (inout [String: Any]) -> Void) throws -> String {
        let data = SafeTensors.encode(validStateDict(), metadata: nil)
        let length = Int(data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + length)) as! [String: Any]
        edit(&header)
        let json = try JSONSerialization.data(withJSONObject: header)
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(data.subdata(in: 8 + length..<data.count))
        return try write(out)
    }

    func testMissingFile() {
        XCTAssertEqual(loadError(folder.appendingPathComponent("absent.safetensors").path)?.kind, .unreadable)
    }

    func testEmptyAndTinyFilesAreTruncated() throws {
        XCTAssertEqual(loadError(try write(Data()))?.kind, .truncated)
        XCTAssertEqual(loadError(try write(Data([1, 2, 3])))?.kind, .truncated)
    }

    func testHeaderLargerThanFile() throws {
        var data = Data()
        withUnsafeBytes(of: UInt64(1_000_000).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data("{}".utf8))
        XCTAssertEqual(loadError(try write(data))?.kind, .headerTooLarge)
    }

    func testTruncatedDataIsOffsetsOutOfRange() throws {
        let data = SafeTensors.encode(validStateDict(), metadata: nil)
        let error = loadError(try write(data.prefix(data.count - 10)))
        XCTAssertEqual(error?.kind, .offsetsOutOfRange)
        XCTAssertNotNil(error?.key, "the error should name the tensor whose data is cut off")
    }

    func testNotJSONHeader() throws {
        var data = Data()
        withUnsafeBytes(of: UInt64(4).littleEndian) { data.append(contentsOf: $0) }
        data.append(Data("nope".utf8))
        XCTAssertEqual(loadError(try write(data))?.kind, .invalidHeader)
    }

    func testSizeMismatchBetweenShapeAndOffsets() throws {
        let path = try withHeader { header in
            var entry = header["conv1.0.bias"] as! [String: Any]
            entry["shape"] = [3]
            header["conv1.0.bias"] = entry
        }
        let error = loadError(path)
        XCTAssertEqual(error?.kind, .offsetsOutOfRange)
        XCTAssertEqual(error?.key, "conv1.0.bias")
    }

    func testUnsupportedDType() throws {
        let path = try withHeader { header in
            var entry = header["conv1.0.bias"] as! [String: Any]
            entry["dtype"] = "U8"
            header["conv1.0.bias"] = entry
        }
        let error = loadError(path)
        XCTAssertEqual(error?.kind, .unsupportedDType)
        XCTAssertEqual(error?.key, "conv1.0.bias")
    }

    func testOverlappingTensors() throws {
        let path = try withHeader { header in
            var entry = header["conv1.0.bias"] as! [String: Any]
            let weightOffsets = (header["conv1.0.weight"] as! [String: Any])["data_offsets"] as! [Int]
            entry["data_offsets"] = [weightOffsets[0], weightOffsets[0] + 8]
            header["conv1.0.bias"] = entry
        }
        XCTAssertEqual(loadError(path)?.kind, .offsetsOutOfRange)
    }

    func testMissingKey() throws {
        var dict = validStateDict()
        dict["res2.1.1.running_var"] = nil
        let error = loadError(try write(SafeTensors.encode(dict, metadata: nil)))
        XCTAssertEqual(error?.kind, .missingKey)
        XCTAssertEqual(error?.key, "res2.1.1.running_var")
    }

    func testExtraKey() throws {
        var dict = validStateDict()
        dict["fc.weight"] = .init(name: "fc.weight", tensor: Tensor(shape: [2], repeating: 1))
        let error = loadError(try write(SafeTensors.encode(dict, metadata: nil)))
        XCTAssertEqual(error?.kind, .unexpectedKey)
        XCTAssertEqual(error?.key, "fc.weight")
    }

    func testWrongShape() throws {
        var dict = validStateDict()
        dict["res1.0.0.weight"]!.tensor = Tensor(shape: [4, 4, 5, 5], repeating: 0.1)
        let error = loadError(try write(SafeTensors.encode(dict, metadata: nil)))
        XCTAssertEqual(error?.kind, .wrongShape)
        XCTAssertEqual(error?.key, "res1.0.0.weight")
    }

    func testNonFiniteWeight() throws {
        var dict = validStateDict()
        dict["conv3.0.weight"]!.tensor.scalars[5] = .nan
        let error = loadError(try write(SafeTensors.encode(dict, metadata: nil)))
        XCTAssertEqual(error?.kind, .nonFinite)
        XCTAssertEqual(error?.key, "conv3.0.weight")
    }

    func testIntegerWhereFloatsBelong() throws {
        var dict = validStateDict()
        dict["conv1.0.bias"]!.isInteger = true
        let error = loadError(try write(SafeTensors.encode(dict, metadata: nil)))
        XCTAssertEqual(error?.kind, .unsupportedDType)
        XCTAssertEqual(error?.key, "conv1.0.bias")
    }

    func testNotAResNet9() throws {
        let dict = StateDict([.init(name: "weight", tensor: Tensor(shape: [3], repeating: 1))])
        let error = loadError(try write(SafeTensors.encode(dict, metadata: nil)))
        XCTAssertEqual(error?.kind, .missingKey)
        XCTAssertEqual(error?.key, "conv1.0.weight")
    }

    func testMalformedMetadata() throws {
        let path = try write(SafeTensors.encode(validStateDict(), metadata: ["classes": "angry, happy"]))
        let error = loadError(path)
        XCTAssertEqual(error?.kind, .invalidMetadata)
        XCTAssertEqual(error?.key, "classes")
    }

    func testMoreClassNamesThanOutputs() throws {
        let path = try write(SafeTensors.encode(validStateDict(), metadata: nil))
        let error = loadError(path, overrides: ModelOverrides(classNames: (0..<8).map { "c\($0)" }))
        XCTAssertEqual(error?.kind, .invalidMetadata)
    }

    func testNormalizationForWrongChannelCount() throws {
        let path = try write(SafeTensors.encode(validStateDict(), metadata: nil))
        XCTAssertEqual(loadError(path, overrides: ModelOverrides(mean: [0.1, 0.2]))?.kind, .invalidMetadata)
        XCTAssertEqual(loadError(path, overrides: ModelOverrides(std: [0]))?.kind, .invalidMetadata)
    }

    func testTruncatedCheckpoint() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("narrow_resnet9.pth")))
        let error = loadError(try write(bytes.prefix(bytes.count / 2), "cut.pth"))
        XCTAssertNotNil(error)
    }

    func testWholePickledModuleIsRefusedWithAdvice() throws {
        let error = loadError(Fixtures.path("whole_model.pth"))
        XCTAssertEqual(error?.kind, .unsupportedCheckpoint)
        XCTAssert(error?.description.contains("state_dict()") == true, "no advice in: \(String(describing: error))")
    }

    func testLegacyCheckpointIsRefused() throws {
        let error = loadError(try write(Data([0x80, 0x02, 0x8A, 0x0A]), "old.pth"))
        XCTAssertEqual(error?.kind, .unsupportedCheckpoint)
    }

    func testRandomBytesNeverCrash() throws {
        var random = SplitMix64(seed: 99)
        let valid = SafeTensors.encode(validStateDict(), metadata: ["classes": "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\"]"])
        for trial in 0..<200 {
            var data = valid
            // Flip a few bytes in the header region or anywhere.
            for _ in 0..<3 {
                let limit = trial % 2 == 0 ? min(data.count, 400) : data.count
                data[Int(random.next() % UInt64(limit))] = UInt8(truncatingIfNeeded: random.next())
            }
            let path = try write(data, "fuzz.safetensors")
            _ = try? ModelLoader.load(path: path)   // any outcome but a crash
        }
    }

    func testDamagedCheckpointsNeverCrash() throws {
        var random = SplitMix64(seed: 7)
        let valid = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("narrow_resnet9.pth")))
        for _ in 0..<200 {
            var data = valid
            for _ in 0..<4 { data[Int(random.next() % UInt64(data.count))] = UInt8(truncatingIfNeeded: random.next()) }
            let path = try write(data, "fuzz.pth")
            _ = try? ModelLoader.load(path: path)   // any outcome but a crash
        }
    }
}
