import CV4L2
@testable import FERVision
import FERVisionTesting
import Foundation
import XCTest

/// Capture against the in-memory V4L2 driver: negotiation, fallbacks, streaming, timestamps and every
/// error path, with the driver checking the protocol as it goes.
final class CameraCaptureTests: XCTestCase {
    /// Frame `index` is a horizontal gradient offset by the index, so every pixel says which frame it is.
    static func pattern(_ index: Int, _ width: Int, _ height: Int) -> ByteImage {
        ByteImage(width: width, height: height, pixels: (0..<(width * height)).map { UInt8(truncatingIfNeeded: ($0 % width) + 7 * index) })
    }

    private func camera(frames: Int = 1000, formats: [SimulatedCamera.Format]? = nil) -> SimulatedCamera {
        let limit = frames
        let source: (Int, Int, Int) -> ByteImage? = { index, width, height in index < limit ? Self.pattern(index, width, height) : nil }
        if let formats { return SimulatedCamera(formats: formats, frames: source) }
        return SimulatedCamera(frames: source)
    }

    private func open(_ device: SimulatedCamera, _ settings: CaptureSettings = CaptureSettings(framesPerSecond: 30, timeout: 0.5))
        throws(CaptureError) -> CameraSource {
        try CameraSource(settings: settings, system: device)
    }

    private func expectError(_ kind: CaptureError.Kind, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> CaptureError? {
        do {
            try body()
            XCTFail("expected \(kind)", file: file, line: line)
        } catch let error as CaptureError {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
        return nil
    }

    func testNegotiatesYUV420StreamsFramesAndReleasesEverything() throws {
        let device = camera()
        let source = try open(device)
        XCTAssertEqual(source.format, NegotiatedFormat(pixelFormat: .yuv420, width: 640, height: 480, bytesPerLine: 640,
                                                       framesPerSecond: 30, bufferCount: 4))
        var timestamps: [Double] = []
        // Far more frames than buffers: only works if every buffer is requeued.
        for index in 0..<20 {
            let frame = try XCTUnwrap(source.nextFrame())
            XCTAssertEqual(frame.sequence, index)
            XCTAssertEqual(frame.image, Self.pattern(index, 640, 480), "frame \(index) is the Y plane as the driver filled it")
            timestamps.append(frame.timestamp)
        }
        XCTAssertEqual(timestamps, timestamps.sorted())
        XCTAssertLessThan(abs(timestamps.last! - MonotonicClock.seconds()), 1, "buffer timestamps are on the monotonic clock")
        source.close()
        source.close()
        XCTAssertEqual(device.violations, [])
        XCTAssertEqual(Array(device.calls.suffix(6)), [.streamOff, .unmap, .unmap, .unmap, .unmap, .close])
        // Set-up order: capabilities, formats, format, rate, buffers (query + map each), queue all, stream on.
        let setUp = device.calls.prefix { $0 != .poll }.filter { $0 != .enumerateFrameSizes && $0 != .enumerateFormats }
        XCTAssertEqual(setUp, [.open, .queryCapability, .setFormat, .setParameters, .requestBuffers]
                       + Array(repeating: [.queryBuffer, .map], count: 4).flatMap { $0 }
                       + Array(repeating: .queueBuffer, count: 4) + [.streamOn])
        // Each dequeued buffer goes straight back before the next wait.
        let streaming = device.calls.drop { $0 != .poll }.prefix { $0 != .streamOff }
        XCTAssertEqual(Array(streaming), Array(repeating: [.poll, .dequeueBuffer, .queueBuffer], count: 20).flatMap { $0 })
    }

    /// Streaming starts with the first frame asked for, not at open (frames taken while the program starts
    /// would be shown that late); a pause stops it, and the next frame starts it again from empty buffers
    /// with the driver's numbering reset, so the pause is not counted as lost frames.
    func testStreamsFromTheFirstFrameAndStopsWhilePaused() throws {
        let device = camera()
        let source = try open(device)
        XCTAssertFalse(device.calls.contains(.streamOn), "not streaming before a frame is asked for")
        for _ in 0..<3 { _ = try XCTUnwrap(source.nextFrame()) }
        try source.pause()
        try source.pause()
        let paused = device.calls.count
        XCTAssertEqual(device.calls.last, .streamOff)
        XCTAssertEqual(try XCTUnwrap(source.nextFrame()).sequence, 3, "the run's own numbering goes on")
        XCTAssertEqual(Array(device.calls[paused...]), Array(repeating: .queueBuffer, count: 4) + [.streamOn, .poll, .dequeueBuffer, .queueBuffer])
        XCTAssertEqual(device.calls.filter { $0 == .streamOff }.count, 1, "a second pause does nothing")
        XCTAssertEqual(source.skipped.count, 0)
        source.close()
        XCTAssertEqual(device.violations, [])
    }

    func testFallsBackToFormatsTheDeviceOffers() throws {
        let cases: [([PixelFormat], PixelFormat)] = [([.yuyv], .yuyv), ([.rgb24, .grey], .grey), ([.rgb24], .rgb24),
                                                     ([PixelFormat(code: 0x3436_3248), .yuyv], .yuyv)]   // H264 first
        for (offered, expected) in cases {
            let device = camera(formats: offered.map { SimulatedCamera.Format($0, sizes: [(320, 240)]) })
            let source = try open(device)
            XCTAssertEqual(source.format.pixelFormat, expected, "offered \(offered)")
            XCTAssertEqual(try source.nextFrame()?.image, Self.pattern(0, 320, 240), "\(expected) read back as the same gray")
            source.close()
            XCTAssertEqual(device.violations, [])
        }
    }

    func testGrantsTheNearestSizeAndReportsTheRate() throws {
        let device = camera()
        device.maxFrameRate = 15
        let source = try open(device, CaptureSettings(width: 1000, height: 700, framesPerSecond: 60, timeout: 0.5))
        XCTAssertEqual(source.format.width, 1280)
        XCTAssertEqual(source.format.height, 720)
        XCTAssertEqual(source.format.framesPerSecond, 15, "the rate the driver granted, not the one asked for")
        XCTAssertEqual(try source.nextFrame()?.image.width, 1280)

        let fixedRate = camera()
        fixedRate.hasFrameRateControl = false
        let plain = try open(fixedRate)
        XCTAssertNil(plain.format.framesPerSecond, "a driver without S_PARM runs at its own rate")
        XCTAssertNotNil(try plain.nextFrame())
    }

    func testReadsStridedRows() {
        // Rows padded to 8 bytes, as drivers do for alignment.
        let bytes: [UInt8] = [1, 2, 3, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0]
        let image = bytes.withUnsafeBytes { PixelFormat.grey.picture($0, width: 3, height: 2, bytesPerLine: 8, color: true) }
        XCTAssertEqual(image?.luma.pixels, [1, 2, 3, 4, 5, 6])
        XCTAssertNil(image?.chroma, "GREY has no colour")
        let yuyv: [UInt8] = [10, 100, 20, 200, 30, 101, 40, 201]
        let picture = yuyv.withUnsafeBytes { PixelFormat.yuyv.picture($0, width: 2, height: 2, bytesPerLine: 4, color: true) }
        XCTAssertEqual(picture?.luma.pixels, [10, 20, 30, 40])
        XCTAssertEqual(picture?.chroma?.u, [100], "the even row's U")
        XCTAssertEqual(picture?.chroma?.v, [200])
        XCTAssertNil(bytes.withUnsafeBytes { PixelFormat.grey.picture($0, width: 8, height: 4, bytesPerLine: 8, color: false) }, "too short")
    }

    func testReadsTheColourPlanesOfYU12() {
        // 4x2 luma with 8-byte rows, then U and V at half the bytes per line (4), one row each.
        let luma: [UInt8] = [1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 0]
        let bytes = luma + [50, 60, 0, 0] + [70, 80, 0, 0]
        let picture = bytes.withUnsafeBytes { PixelFormat.yuv420.picture($0, width: 4, height: 2, bytesPerLine: 8, color: true) }
        XCTAssertEqual(picture?.luma.pixels, [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(picture?.chroma?.u, [50, 60])
        XCTAssertEqual(picture?.chroma?.v, [70, 80])
        let gray = bytes.withUnsafeBytes { PixelFormat.yuv420.picture($0, width: 4, height: 2, bytesPerLine: 8, color: false) }
        XCTAssertEqual(gray?.luma, picture?.luma, "colour never changes the luma")
        XCTAssertNil(gray?.chroma)
    }

    func testOpenErrorsSayWhatToDo() throws {
        let missing = expectError(.noSuchDevice) { _ = try open(camera(), CaptureSettings(device: "/dev/video7")) }
        XCTAssertEqual(missing?.description.contains("/dev/video7"), true)
        XCTAssertEqual(missing?.description.contains("fer-live devices"), true)
        XCTAssertEqual(missing?.description.contains("fer-live replay"), true)

        let locked = camera()
        locked.faults = [.init(.open, code: EACCES)]
        XCTAssertEqual(expectError(.permissionDenied) { _ = try open(locked) }?.description.contains("video group"), true)

        let busy = camera()
        let first = try open(busy)
        XCTAssertEqual(expectError(.busy) { _ = try open(busy) }?.description.contains("another program"), true)
        first.close()
        XCTAssertNoThrow(try open(busy).close(), "free again once the first user closed it")

        let busyFormat = camera()
        busyFormat.faults = [.init(.setFormat, code: EBUSY)]
        _ = expectError(.busy) { _ = try open(busyFormat) }
        XCTAssertEqual(busyFormat.calls.last, .close, "a failed set-up closes the device")
    }

    func testRejectsDevicesThatCannotCapture() {
        let output = camera()
        output.canCapture = false
        XCTAssertEqual(expectError(.notCaptureDevice) { _ = try open(output) }?.description.contains("cannot capture"), true)
        let noStreaming = camera()
        noStreaming.canStream = false
        _ = expectError(.notCaptureDevice) { _ = try open(noStreaming) }
        let notV4L2 = camera()
        notV4L2.faults = [.init(.queryCapability, code: ENOTTY)]
        _ = expectError(.notCaptureDevice) { _ = try open(notV4L2) }
    }

    func testNoUsableFormatListsWhatWasOffered() {
        let device = camera(formats: [SimulatedCamera.Format(PixelFormat(code: 0x3436_3248), sizes: [(640, 480)])])
        let error = expectError(.noUsableFormat) { _ = try open(device) }
        XCTAssertEqual(error?.description.contains("H264"), true, error?.description ?? "")
        XCTAssertEqual(device.calls.last, .close)
        XCTAssertEqual(device.violations, [])
    }

    func testTooFewBuffersIsAnErrorAndReleasesTheMappedOnes() {
        let device = camera()
        device.maxBuffers = 1
        XCTAssertEqual(expectError(.failed) { _ = try open(device) }?.description.contains("only 1 buffers"), true)
        let mapFails = camera()
        mapFails.faults = [.init(.map, occurrence: 3, code: ENOMEM)]
        _ = expectError(.failed) { _ = try open(mapFails) }
        XCTAssertEqual(mapFails.violations, [], "the two mapped buffers were unmapped before close")
        XCTAssertEqual(mapFails.calls.filter { $0 == .unmap }.count, 2)
    }

    func testTransientErrorsAreRetried() throws {
        let device = camera()
        device.faults = [.init(.dequeueBuffer, occurrence: 1, code: EAGAIN), .init(.dequeueBuffer, occurrence: 2, code: EINTR),
                         .init(.poll, occurrence: 4, code: EINTR), .init(.dequeueBuffer, occurrence: 5, code: EIO, count: 3)]
        let source = try open(device)
        for index in 0..<4 { XCTAssertEqual(try source.nextFrame()?.sequence, index) }
        source.close()
        XCTAssertEqual(device.violations, [])
    }

    func testPersistentIOErrorsFail() throws {
        let device = camera()
        device.faults = [.init(.dequeueBuffer, code: EIO, count: 100)]
        let source = try open(device)
        _ = expectError(.failed) { _ = try source.nextFrame() }
    }

    func testNoFrameWithinTheTimeout() throws {
        let source = try open(camera(frames: 2))
        XCTAssertNotNil(try source.nextFrame())
        XCTAssertNotNil(try source.nextFrame())
        let error = expectError(.noFrame) { _ = try source.nextFrame() }
        XCTAssertEqual(error?.description.contains("no frame within 0.5 s"), true, error?.description ?? "")
    }

    func testCorruptBuffersAreSkippedAndCounted() throws {
        let device = camera()
        device.corruptFrames = [1]
        let source = try open(device)
        XCTAssertEqual(try source.nextFrame()?.image, Self.pattern(0, 640, 480))
        XCTAssertEqual(try source.nextFrame()?.image, Self.pattern(2, 640, 480), "the corrupt frame 1 is skipped")
        XCTAssertEqual(source.skipped.count, 1)
    }

    func testUnpluggedMidStream() throws {
        let device = camera()
        device.unplug(afterFrames: 3)
        let source = try open(device)
        for _ in 0..<3 { XCTAssertNotNil(try source.nextFrame()) }
        let error = expectError(.unplugged) { _ = try source.nextFrame() }
        XCTAssertEqual(error?.description.contains("/dev/video0"), true)
        source.close()   // the device is gone: closing must still not crash or leak
        XCTAssertEqual(device.calls.last, .close)
    }

    func testUnplugDuringDequeueIsReported() throws {
        let device = camera()
        device.faults = [.init(.dequeueBuffer, occurrence: 2, code: ENODEV)]
        let source = try open(device)
        XCTAssertNotNil(try source.nextFrame())
        _ = expectError(.unplugged) { _ = try source.nextFrame() }
    }

    func testDescribesTheDevice() throws {
        let device = camera(formats: [.init(.yuyv, sizes: [(640, 480), (1280, 720)]), .init(.mjpeg, sizes: [(1920, 1080)])])
        let description = try DeviceList.describe("/dev/video0", system: device)
        XCTAssertEqual(description.capability.card, "fer-live simulated camera")
        XCTAssertEqual(description.capability.driver, "fer-live-sim")
        XCTAssertTrue(description.capability.canCapture)
        XCTAssertEqual(description.formats.map(\.pixelFormat), [.yuyv, .mjpeg])
        XCTAssertEqual(description.formats.map(\.sizes), [["640x480", "1280x720"], ["1920x1080"]])
        XCTAssertEqual(device.calls.last, .close)
        let all = DeviceList.describeAll(system: device)
        XCTAssertEqual(all.map(\.path), ["/dev/video0"])
    }

    func testUnpluggedCameraEndsThePipelineWithEveryFrameDelivered() throws {
        let device = camera()
        device.unplug(afterFrames: 5)
        let source = try open(device)
        let sink = FramePipelineTests.CollectingSink()
        let pipeline = FramePipeline(source: source, classifier: FramePipelineTests.tinyClassifier(), sinks: [sink],
                                     policy: .lossless(batch: 1), pacing: .live)
        let summary = try pipeline.run()
        XCTAssertEqual(sink.results.count, 5)
        XCTAssertTrue(sink.finished, "outputs are flushed")
        XCTAssertEqual((summary.sourceError as? CaptureError)?.kind, .unplugged)
        // Live pacing: the capture time is the buffer's timestamp, before the frame was handed over.
        for result in sink.results {
            XCTAssertEqual(result.times.captured, result.frame.timestamp, accuracy: 1e-9)
            XCTAssertLessThanOrEqual(result.times.captured, result.times.dequeued)
        }
    }
}
