@testable import FERVision
import XCTest

/// The restricted unpickler on hand-made opcode sequences.
final class CheckpointReaderTests: XCTestCase {
    private func unpickle(_ bytes: [UInt8]) throws -> Unpickler.Value {
        try Unpickler(reduce: { callable, _ in
            if case .global("collections", "OrderedDict") = callable { return .dict(Unpickler.DictBox()) }
            throw PyTorchCheckpoint.Refusal(description: "refused \(callable)")
        }, persistentLoad: { _ in .none }).load(bytes)
    }

    func testDictWithMemoAndSetItems() throws {
        // PROTO 2, GLOBAL collections OrderedDict, EMPTY_TUPLE, REDUCE, BINPUT 0, MARK,
        // 'a' -> 1, 'b' -> -2 (BININT), SETITEMS, STOP
        var bytes: [UInt8] = [0x80, 2, 0x63] + Array("collections\nOrderedDict\n".utf8) + [0x29, 0x52, 0x71, 0, 0x28]
        bytes += [0x58, 1, 0, 0, 0, UInt8(ascii: "a"), 0x4B, 1]
        bytes += [0x8C, 1, UInt8(ascii: "b"), 0x4A, 0xFE, 0xFF, 0xFF, 0xFF]
        bytes += [0x75, 0x2E]
        guard case .dict(let dict) = try unpickle(bytes) else { return XCTFail("not a dict") }
        XCTAssertEqual(dict.entries.count, 2)
        guard case .int(-2) = dict.entries[1].value else { return XCTFail("BININT sign lost: \(dict.entries[1].value)") }
    }

    func testLong1AndTuples() throws {
        // LONG1 of 2 bytes 0xFF 0x7F = 32767, LONG1 1 byte 0xFF = -1, TUPLE2, STOP
        let value = try unpickle([0x80, 2, 0x8A, 2, 0xFF, 0x7F, 0x8A, 1, 0xFF, 0x86, 0x2E])
        guard case .tuple(let items) = value, items.count == 2, case .int(32767) = items[0], case .int(-1) = items[1] else {
            return XCTFail("got \(value)")
        }
    }

    func testTruncatedPickleThrows() {
        XCTAssertThrowsError(try unpickle([0x80, 2, 0x58, 10, 0, 0, 0, 0x41]))
    }

    func testUnknownOpcodeThrows() {
        XCTAssertThrowsError(try unpickle([0x80, 2, 0xFE])) { error in
            XCTAssert("\(error)".contains("0xfe"), "\(error)")
        }
    }

    func testUnknownGlobalIsRefusedNotExecuted() {
        let bytes: [UInt8] = [0x80, 2, 0x63] + Array("os\nsystem\n".utf8) + [0x8C, 2, 0x6C, 0x73, 0x85, 0x52, 0x2E]
        XCTAssertThrowsError(try unpickle(bytes)) { error in
            XCTAssert("\(error)".contains("refused"), "\(error)")
        }
    }

    func testUndefinedMemoKeyThrows() {
        XCTAssertThrowsError(try unpickle([0x80, 2, 0x68, 5, 0x2E]))
    }
}
