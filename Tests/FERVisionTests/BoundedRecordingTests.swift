import Dispatch
import Foundation
import Synchronization
import XCTest
@testable import FERVision

/// A recording on a disk slower than the camera stops with one line, keeps what it wrote, and never
/// holds up the frames' delivery.
final class BoundedRecordingTests: XCTestCase {
    /// A recorder whose every write waits until the test opens the gate: a disk as slow as we like.
    final class GatedRecorder: FrameSink, @unchecked Sendable {
        let gate = DispatchSemaphore(value: 0)
        let written = Locked<[Int]>([])
        let finished = Atomic<Int>(0)
        func deliver(_ result: FrameResult) throws {
            gate.wait()
            written.withLock { $0.append(result.frame.sequence) }
        }
        func finish() throws { finished.add(1, ordering: .relaxed) }
    }

    private func result(_ sequence: Int) -> FrameResult {
        let image = ByteImage(width: 8, height: 8, pixels: [UInt8](repeating: UInt8(sequence), count: 64))
        return FrameResult(frame: Frame(sequence: sequence, timestamp: Double(sequence) / 30, image: image, sourceName: "f\(sequence)"),
                           faces: [], times: FrameTimes(captured: 0))
    }

    func testASlowDiskStopsTheRecordingWithoutHoldingUpFrames() throws {
        let disk = GatedRecorder()
        let reasons = Locked<[String]>([])
        // Shared with the delivering thread as the pipeline's sink queue shares it (it locks inside).
        nonisolated(unsafe) let recorder = SwitchableRecorder(recording: ("slow.mkv", disk), waitingLimit: 3) { reason in
            reasons.withLock { $0.append(reason) }
        }
        // Ten frames while the disk writes none: delivery must return at once (a hang here is the bug).
        let delivered = DispatchSemaphore(value: 0)
        let results = (0..<10).map(result)
        DispatchQueue.global().async {
            for frame in results { try? recorder.deliver(frame) }
            delivered.signal()
        }
        XCTAssertEqual(delivered.wait(timeout: .now() + 10), .success, "delivery waited for the disk")
        XCTAssertEqual(reasons.withLock { $0 }.count, 1, "one line says the recording stopped")
        let reason = try XCTUnwrap(reasons.withLock { $0.first })
        XCTAssert(reason.contains("slow.mkv") && reason.contains("did not keep up") && reason.contains("after 3 frames"), reason)
        XCTAssertNil(recorder.directory, "the recording is off")
        XCTAssertEqual(disk.finished.load(ordering: .relaxed), 0, "still writing what it was given")

        for _ in 0..<10 { disk.gate.signal() }
        try recorder.finish()
        XCTAssertEqual(disk.written.withLock { $0 }, [0, 1, 2], "the frames handed over are written, in order")
        XCTAssertEqual(disk.finished.load(ordering: .relaxed), 1, "and the recording closed once")
    }

    /// The window's r key stops a recording whose disk is behind without waiting for it (it blocked the
    /// main thread until every waiting frame was written); the frames are still written and the file
    /// closed once.
    func testStoppingWhileTheDiskIsBehindReturnsAtOnce() throws {
        let disk = GatedRecorder()
        let recorder = SwitchableRecorder(recording: ("slow", disk), waitingLimit: 50) { XCTFail("stopped: \($0)") }
        for frame in (0..<5).map(result) { try recorder.deliver(frame) }
        let started = Date()
        XCTAssertNil(try recorder.toggle(startingIn: "unused"), "recording is off")
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "the toggle waited for the disk")
        XCTAssertEqual(disk.finished.load(ordering: .relaxed), 0)
        for _ in 0..<5 { disk.gate.signal() }
        try recorder.finish()
        XCTAssertEqual(disk.written.withLock { $0 }, [0, 1, 2, 3, 4])
        XCTAssertEqual(disk.finished.load(ordering: .relaxed), 1, "closed once")
    }

    func testADiskThatKeepsUpRecordsEveryFrame() throws {
        let disk = GatedRecorder()
        for _ in 0..<50 { disk.gate.signal() }
        let recorder = SwitchableRecorder(recording: ("fast", disk), waitingLimit: 50) { XCTFail("stopped: \($0)") }
        for frame in (0..<50).map(result) { try recorder.deliver(frame) }
        try recorder.finish()
        XCTAssertEqual(disk.written.withLock { $0 }, Array(0..<50))
        XCTAssertEqual(disk.finished.load(ordering: .relaxed), 1)
    }

    /// A write that fails (a full disk) still ends the run, as any output's failure does.
    func testAWriteErrorEndsTheRun() throws {
        final class FullDisk: FrameSink {
            func deliver(_ result: FrameResult) throws { throw DatasetError(path: "full/frame000000.png", "cannot record the frame (no space)") }
            func finish() throws {}
        }
        let recorder = SwitchableRecorder(recording: ("full", FullDisk()), waitingLimit: 5) { _ in }
        try recorder.deliver(result(0))
        XCTAssertThrowsError(try recorder.finish()) { XCTAssert("\($0)".contains("no space"), "\($0)") }
    }
}
