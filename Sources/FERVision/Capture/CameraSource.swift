import CV4L2
import Foundation

/// How to open a camera.
public struct CaptureSettings: Sendable {
    /// The device node.
    public var device = "/dev/video0"
    /// Requested frame size; the driver grants one it supports (for USB cameras, libv4l2 picks the
    /// largest that fits within it).
    public var width = 640, height = 480
    /// Requested frame rate (VIDIOC_S_PARM); nil keeps the driver's.
    public var framesPerSecond: Double?
    /// Driver buffers to request: one being filled, one waiting, one being copied out, and a spare.
    public var bufferCount = 4
    /// Seconds to wait for a frame before giving up.
    public var timeout = 5.0

    public init(device: String = "/dev/video0", width: Int = 640, height: Int = 480, framesPerSecond: Double? = nil,
                bufferCount: Int = 4, timeout: Double = 5) {
        self.device = device
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        self.bufferCount = bufferCount
        self.timeout = timeout
    }
}

/// What the driver granted.
public struct NegotiatedFormat: Equatable, Sendable, CustomStringConvertible {
    public let pixelFormat: PixelFormat
    public let width: Int, height: Int
    public let bytesPerLine: Int
    /// Frame rate the driver reports after our request, nil when it does not say.
    public let framesPerSecond: Double?
    public let bufferCount: Int

    public var description: String {
        "\(width)x\(height) \(pixelFormat)" + (framesPerSecond.map { String(format: " at %.4g fps", $0) } ?? "")
    }
}

/// A V4L2 camera as a frame source: mmap streaming through libv4l2 (or any `VideoDeviceSystem`).
///
/// Frames are copied out of the driver's buffer as 8-bit grayscale (with their colour planes when asked)
/// and the buffer is requeued at once, so
/// the driver never starves. Each frame's timestamp is the driver's monotonic capture time. Thread safety:
/// one thread at a time (the pipeline's capture thread), like every `FrameSource`.
public final class CameraSource: FrameSource {
    public let name: String
    public let format: NegotiatedFormat
    public private(set) var skipped = SkippedFrames()
    /// Whether frames carry their colour (`Frame.chroma`): for a window or a recording.
    public let color: Bool

    private let system: VideoDeviceSystem
    private let descriptor: Int32
    private let timeout: Double
    private let clock: () -> Double
    private var buffers: [(address: UnsafeMutableRawPointer, length: Int)]
    private var sequence = 0
    /// The driver's number of the last buffer dequeued: a gap means frames that never reached us.
    private var driverSequence: UInt32?
    private var isOpen = true
    /// Not streaming, every buffer with us: before the first frame is asked for, and after `pause()`.
    private var isStreaming = false
    /// A failure that came after a frame was safely copied out: reported at the next call, so that frame
    /// is not lost.
    private var deferredError: CaptureError?

    /// Opens the device, checks that it captures video, negotiates format, size and rate and maps the
    /// buffers. Every failure releases what was acquired and names the device. Streaming starts with the
    /// first `nextFrame()`: a camera started here would fill its buffers while the rest of the program
    /// starts up, and the first frames shown would be that old. `color` copies each frame's colour too.
    public init(settings: CaptureSettings, system: VideoDeviceSystem = LibV4L2System(), color: Bool = false,
                clock: @escaping () -> Double = MonotonicClock.seconds) throws(CaptureError) {
        let device = settings.device
        let descriptor: Int32
        do { descriptor = try system.open(device) } catch { throw CaptureError.opening(device, error) }
        let control = DeviceControl(system: system, descriptor: descriptor, device: device)
        var mapped: [(address: UnsafeMutableRawPointer, length: Int)] = []
        do throws(CaptureError) {
            let capability = try control.capability()
            guard capability.canCapture else {
                throw CaptureError(.notCaptureDevice, device: device, "\(capability.card) cannot capture video")
            }
            guard capability.canStream else {
                throw CaptureError(.notCaptureDevice, device: device, "\(capability.card) does not support streaming")
            }
            let pixels = try control.negotiateFormat(width: settings.width, height: settings.height)
            let rate = try control.negotiateFrameRate(settings.framesPerSecond)
            let count = try control.requestBuffers(max(3, settings.bufferCount))
            for index in 0..<count { mapped.append(try control.mapBuffer(index)) }
            format = NegotiatedFormat(pixelFormat: pixels.format, width: pixels.width, height: pixels.height,
                                      bytesPerLine: pixels.bytesPerLine, framesPerSecond: rate, bufferCount: count)
        } catch {
            for buffer in mapped { system.unmap(buffer.address, length: buffer.length) }
            system.close(descriptor)
            throw error
        }
        name = device
        self.color = color
        self.system = system
        self.descriptor = descriptor
        self.buffers = mapped
        self.timeout = settings.timeout
        self.clock = clock
    }

    deinit { close() }

    /// The next frame. Throws `.noFrame` when none arrives within the timeout (also when the device keeps
    /// signalling frames that never dequeue, as libv4l2 does with frames it cannot convert) and
    /// `.unplugged` when the camera is gone; buffers the driver marks as corrupt are skipped and counted.
    public func nextFrame() throws -> Frame? {
        guard isOpen else { return nil }
        if let deferredError { throw deferredError }
        if !isStreaming { try startStreaming() }
        let device = name
        var ioErrors = 0
        let deadline = clock() + timeout
        while true {
            let outcome: PollOutcome
            let remaining = deadline - clock()
            guard remaining > 0 else {
                throw CaptureError(.noFrame, device: device, String(format: "no frame within %.3g s", timeout))
            }
            do { outcome = try system.poll(descriptor, timeout: remaining) } catch {
                if error.code == EINTR { continue }
                throw CaptureError.during("poll", device, error)
            }
            switch outcome {
            case .timedOut: throw CaptureError(.noFrame, device: device, String(format: "no frame within %.3g s", timeout))
            case .failed: throw CaptureError(.unplugged, device: device, "stopped delivering frames (device error or unplugged)")
            case .readable: break
            }
            var buffer = Self.emptyBuffer()
            do { try system.ioctl(descriptor, CV4L2_VIDIOC_DQBUF, &buffer) } catch {
                switch error.code {
                case EAGAIN, EINTR: continue
                case EIO:
                    // A transient transfer error (the spec's "signal loss"); give up only if it persists.
                    ioErrors += 1
                    if ioErrors < 10 { continue }
                    throw CaptureError(.failed, device: device, "keeps failing to deliver frames: \(error)")
                default: throw CaptureError.during("VIDIOC_DQBUF", device, error)
                }
            }
            let index = Int(buffer.index)
            guard index < buffers.count else {
                throw CaptureError(.failed, device: device, "the driver returned unknown buffer \(index)")
            }
            let picture = buffer.flags & UInt32(V4L2_BUF_FLAG_ERROR) != 0 ? nil : copyFrame(in: buffer)
            let timestamp = buffer.flags & UInt32(V4L2_BUF_FLAG_TIMESTAMP_MASK) == UInt32(V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC)
                ? Double(buffer.timestamp.tv_sec) + Double(buffer.timestamp.tv_usec) / 1e6 : clock()
            // libv4l2 drops a frame it cannot decode and hands over the next one; the driver drops frames
            // when no buffer is free. Either way the driver's numbering shows the gap.
            if let last = driverSequence, buffer.sequence > last &+ 1 {
                let first = last + 1, missing = buffer.sequence - first
                skipped.append(ImageError(.corrupt, path: "\(device) frame \(missing == 1 ? "\(first)" : "\(first)-\(buffer.sequence - 1)")",
                                          "never delivered (dropped by the driver, or libv4l2 could not decode it)"))
            }
            driverSequence = buffer.sequence
            // Requeue before anything else, so the driver always has buffers to fill.
            do { try system.ioctl(descriptor, CV4L2_VIDIOC_QBUF, &buffer) } catch {
                deferredError = CaptureError.during("VIDIOC_QBUF", device, error)
                if picture == nil { throw deferredError! }
            }
            guard let picture else {
                skipped.append(ImageError(.corrupt, path: "\(device) frame \(driverSequence!)", "the driver marked the buffer corrupt"))
                continue
            }
            defer { sequence += 1 }
            return Frame(sequence: sequence, timestamp: timestamp, image: picture.luma, chroma: picture.chroma, sourceName: device)
        }
    }

    /// Stops streaming while the run is paused; the next `nextFrame()` starts it again from empty buffers.
    /// The driver would otherwise fill its buffers with the first frames of the pause and keep them, and
    /// a resumed run would show those, late by the whole pause, and count the frames it dropped meanwhile
    /// as never delivered.
    public func pause() throws {
        guard isOpen, isStreaming else { return }
        try control.streamOff()
        isStreaming = false
    }

    /// Hands every buffer to the driver and starts streaming. The driver's numbering starts over, so
    /// the time the camera was off is not counted as lost frames.
    private func startStreaming() throws(CaptureError) {
        for index in buffers.indices { try control.queueBuffer(index) }
        try control.streamOn()
        isStreaming = true
        driverSequence = nil
    }

    private var control: DeviceControl { DeviceControl(system: system, descriptor: descriptor, device: name) }

    /// Stops streaming and releases the buffers and the device. Safe to call more than once.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        if isStreaming { try? control.streamOff() }
        for buffer in buffers { system.unmap(buffer.address, length: buffer.length) }
        buffers = []
        system.close(descriptor)
    }

    private func copyFrame(in buffer: v4l2_buffer) -> (luma: ByteImage, chroma: ChromaPlanes?)? {
        let mapping = buffers[Int(buffer.index)]
        let used = buffer.bytesused > 0 ? min(Int(buffer.bytesused), mapping.length) : mapping.length
        return format.pixelFormat.picture(UnsafeRawBufferPointer(start: mapping.address, count: used), width: format.width,
                                          height: format.height, bytesPerLine: format.bytesPerLine, color: color)
    }

    static func emptyBuffer() -> v4l2_buffer {
        var buffer = v4l2_buffer()
        buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        buffer.memory = V4L2_MEMORY_MMAP.rawValue
        return buffer
    }
}
