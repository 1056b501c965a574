@testable import FERVision
import Foundation
import XCTest
import ZIPFoundation

/// Crafted and mutated torch.save checkpoints. Each is a real zip with correct CRCs, so the damage
/// reaches the unpickler and the tensor views (byte flips in the archive stop at the CRC check), and
/// every outcome is an error naming the file, never a trap, a hang or an out-of-memory abort.
final class CheckpointHardeningTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("fer-pth-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: folder) }

    /// A torch.save-shaped zip of `entries` (paths under `archive/`), deflated where asked.
    private func checkpoint(_ entries: [(String, Data)], name: String = "model.pth", deflate: Set<String> = []) throws -> String {
        let url = folder.appendingPathComponent(name)
        try? FileManager.default.removeItem(at: url)
        let archive = try Archive(url: url, accessMode: .create)
        for (path, data) in entries {
            try archive.addEntry(with: "archive/\(path)", type: .file, uncompressedSize: Int64(data.count),
                                 compressionMethod: deflate.contains(path) ? .deflate : .none) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        return url.path
    }

    /// The entries of the narrow fixture checkpoint, by path under `archive/`.
    private func fixtureEntries() throws -> [(String, Data)] {
        let archive = try Archive(url: URL(fileURLWithPath: Fixtures.path("narrow_resnet9.pth")), accessMode: .read)
        return try archive.map { entry in
            var data = Data()
            _ = try archive.extract(entry) { data.append($0) }
            return (String(entry.path.split(separator: "/", maxSplits: 1)[1]), data)
        }
    }

    private func loadError(_ path: String) -> ModelFileError? {
        do { _ = try ModelLoader.load(path: path); return nil } catch { return error }
    }

    // Opcodes for hand-written pickles.
    private func text(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }
    private func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }
    private let orderedDict: [UInt8] = [0x63] + Array("collections\nOrderedDict\n".utf8) + [0x29, 0x52]

    /// {'w': _rebuild_tensor_v2(storage of `count` floats, 0, shape, stride)} as a pickle.
    private func tensorPickle(count: UInt8, shape: [UInt8], stride: [UInt8]) -> Data {
        var bytes: [UInt8] = [0x80, 2] + orderedDict + [0x28] + text("w") + global("torch._utils", "_rebuild_tensor_v2") + [0x28]
        bytes += [0x28] + text("storage") + global("torch", "FloatStorage") + text("0") + text("cpu") + [0x4B, count, 0x74, 0x51]
        bytes += [0x4B, 0] + shape + stride + [0x89] + orderedDict + [0x74, 0x52, 0x75, 0x2E]
        return Data(bytes)
    }

    func testShapesWhoseSizeOverflowsAreErrors() throws {
        // size (2^62, 4), stride (4, 1): the element count overflows Int.
        let huge: [UInt8] = [0x8A, 8, 0, 0, 0, 0, 0, 0, 0, 0x40]
        let path = try checkpoint([("data.pkl", tensorPickle(count: 4, shape: huge + [0x4B, 4, 0x86], stride: [0x4B, 4, 0x4B, 1, 0x86])),
                                   ("byteorder", Data("little".utf8)), ("data/0", Data(count: 16))])
        let error = try XCTUnwrap(loadError(path))
        XCTAssert(error.description.hasPrefix(path) && error.description.contains("more elements than can be counted"), "\(error)")
        // A stride that reaches past the storage once multiplied out.
        let far = try checkpoint([("data.pkl", tensorPickle(count: 4, shape: [0x4B, 2, 0x4B, 2, 0x86], stride: huge + [0x4B, 1, 0x86])),
                                  ("byteorder", Data("little".utf8)), ("data/0", Data(count: 16))], name: "far.pth")
        XCTAssert(try XCTUnwrap(loadError(far)).description.contains("reaches past its storage"))
    }

    /// A storage entry far larger than its tensor reference says (a decompression bomb: a megabyte of
    /// zeros deflates to a kilobyte) is refused before it is inflated into memory.
    func testOversizedEntriesAreRefused() throws {
        let path = try checkpoint([("data.pkl", tensorPickle(count: 4, shape: [0x4B, 4, 0x85], stride: [0x4B, 1, 0x85])),
                                   ("byteorder", Data("little".utf8)), ("data/0", Data(count: 1 << 20))], deflate: ["data/0"])
        let error = try XCTUnwrap(loadError(path))
        XCTAssert(error.description.contains("data/0") && error.description.contains("more than the 16"), "\(error)")
    }

    func testHugeLengthsAndDeepNestingAreErrors() throws {
        let unpickler = Unpickler(reduce: { _, _ in .none }, persistentLoad: { _ in .none })
        // BINUNICODE8 with a length of 2^63 + 1.
        XCTAssertThrowsError(try unpickler.load([0x80, 4, 0x8D, 1, 0, 0, 0, 0, 0, 0, 0x80, 0x41, 0x2E])) { error in
            XCTAssert("\(error)".contains("runs past the end"), "\(error)")
        }
        // A million nested one-tuples: refused at the limit, long before releasing them could overflow the stack.
        let deep = [0x80, 2, 0x29] + [UInt8](repeating: 0x85, count: 1_000_000) + [0x2E]
        XCTAssertThrowsError(try unpickler.load(deep)) { error in
            XCTAssert("\(error)".contains("nest deeper than \(Unpickler.maximumDepth)"), "\(error)")
        }
        // Lists appended into lists nest too: 201 empty lists, each appended into the one below it.
        let lists = [0x80, 2] + [UInt8](repeating: 0x5D, count: 201) + [UInt8](repeating: 0x61, count: 200) + [0x2E]
        XCTAssertThrowsError(try unpickler.load(lists)) { error in
            XCTAssert("\(error)".contains("nest deeper"), "\(error)")
        }
        // Shallow nesting is fine.
        XCTAssertNoThrow(try unpickler.load([0x80, 2, 0x29] + [UInt8](repeating: 0x85, count: 50) + [0x2E]))
    }

    /// Random byte changes inside data.pkl, zipped again with correct CRCs: every result is a model or an
    /// error naming the file.
    func testMutatedPicklesNeverCrash() throws {
        let entries = try fixtureEntries()
        let pickle = try XCTUnwrap(entries.first { $0.0 == "data.pkl" }?.1)
        var random = SplitMix64(seed: 17)
        var refused = 0
        for trial in 0..<300 {
            var mutated = [UInt8](pickle)
            for _ in 0..<(1 + trial % 4) {
                let i = Int(random.next() % UInt64(mutated.count))
                switch random.next() % 3 {
                case 0: mutated[i] = UInt8(truncatingIfNeeded: random.next())
                case 1: mutated.remove(at: i)
                default: mutated.insert(UInt8(truncatingIfNeeded: random.next()), at: i)
                }
            }
            let path = try checkpoint(entries.map { $0.0 == "data.pkl" ? ($0.0, Data(mutated)) : $0 }, name: "fuzz.pth")
            if let error = loadError(path) {
                refused += 1
                XCTAssert(error.description.hasPrefix(path), "\(error)")
            }
        }
        XCTAssertGreaterThan(refused, 150, "most mutations must be caught")
    }
}
