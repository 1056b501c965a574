import CV4L2
import Foundation

/// What VIDIOC_QUERYCAP says about a device.
public struct DeviceCapability: Equatable, Sendable {
    public let card: String
    public let driver: String
    public let busInfo: String
    public let canCapture: Bool
    public let canStream: Bool
}

/// A pixel format a device offers (VIDIOC_ENUM_FMT) and its frame sizes (VIDIOC_ENUM_FRAMESIZES).
public struct OfferedFormat: Equatable, Sendable {
    public let pixelFormat: PixelFormat
    public let description: String
    /// libv4l2 converts to this format in software; the camera itself sends another.
    public let isConverted: Bool
    /// "640x480", or a range such as "16x16-1920x1080" for stepwise sizes.
    public let sizes: [String]
}

/// The V4L2 requests capture and `fer-live devices` make, on one open descriptor: each fills the
/// kernel's struct, makes the call through the `VideoDeviceSystem`, and turns errno into a `CaptureError`.
struct DeviceControl {
    let system: VideoDeviceSystem
    let descriptor: Int32
    let device: String

    func capability() throws(CaptureError) -> DeviceCapability {
        var capability = v4l2_capability()
        do { try system.ioctl(descriptor, CV4L2_VIDIOC_QUERYCAP, &capability) } catch {
            if error.code == ENOTTY || error.code == EINVAL {
                throw CaptureError(.notCaptureDevice, device: device, "is not a V4L2 video device")
            }
            throw CaptureError.during("VIDIOC_QUERYCAP", device, error)
        }
        let all = capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? capability.device_caps : capability.capabilities
        return DeviceCapability(card: Self.string(capability.card), driver: Self.string(capability.driver),
                                busInfo: Self.string(capability.bus_info),
                                canCapture: all & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0,
                                canStream: all & UInt32(V4L2_CAP_STREAMING) != 0)
    }

    /// Every capture format, with its frame sizes.
    func formats() throws(CaptureError) -> [OfferedFormat] {
        var offered: [OfferedFormat] = []
        for index in 0..<64 {
            var description = v4l2_fmtdesc()
            description.index = UInt32(index)
            description.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            do { try system.ioctl(descriptor, CV4L2_VIDIOC_ENUM_FMT, &description) } catch {
                if error.code == EINVAL { break }   // the end of the list
                throw CaptureError.during("VIDIOC_ENUM_FMT", device, error)
            }
            let format = PixelFormat(code: description.pixelformat)
            offered.append(OfferedFormat(pixelFormat: format, description: Self.string(description.description),
                                         isConverted: description.flags & UInt32(V4L2_FMT_FLAG_EMULATED) != 0,
                                         sizes: try frameSizes(of: format)))
        }
        return offered
    }

    private func frameSizes(of format: PixelFormat) throws(CaptureError) -> [String] {
        var sizes: [String] = []
        for index in 0..<256 {
            var size = v4l2_frmsizeenum()
            size.index = UInt32(index)
            size.pixel_format = format.code
            do { try system.ioctl(descriptor, CV4L2_VIDIOC_ENUM_FRAMESIZES, &size) } catch {
                if error.code == EINVAL || error.code == ENOTTY { break }
                throw CaptureError.during("VIDIOC_ENUM_FRAMESIZES", device, error)
            }
            if size.type == V4L2_FRMSIZE_TYPE_DISCRETE.rawValue {
                sizes.append("\(size.discrete.width)x\(size.discrete.height)")
            } else {
                let range = size.stepwise
                sizes.append("\(range.min_width)x\(range.min_height)-\(range.max_width)x\(range.max_height)")
                break   // stepwise and continuous ranges are a single entry
            }
        }
        return sizes
    }

    /// Sets the first readable format (best first) at the size nearest the request.
    func negotiateFormat(width: Int, height: Int) throws(CaptureError) -> (format: PixelFormat, width: Int, height: Int, bytesPerLine: Int) {
        let offered = try formats().map(\.pixelFormat)
        // A driver that lists nothing may still accept a format: try them all then.
        let candidates = offered.isEmpty ? PixelFormat.preferred : PixelFormat.preferred.filter(offered.contains)
        guard !candidates.isEmpty else {
            throw CaptureError(.noUsableFormat, device: device,
                               "offers only \(offered.map(\.description).joined(separator: ", ")); fer-live reads \(PixelFormat.preferred.map(\.description).joined(separator: ", "))")
        }
        for candidate in candidates {
            var format = v4l2_format()
            format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
            format.fmt.pix.width = UInt32(clamping: width)
            format.fmt.pix.height = UInt32(clamping: height)
            format.fmt.pix.pixelformat = candidate.code
            format.fmt.pix.field = V4L2_FIELD_NONE.rawValue
            do { try system.ioctl(descriptor, CV4L2_VIDIOC_S_FMT, &format) } catch {
                if error.code == EINVAL { continue }
                throw CaptureError.during("VIDIOC_S_FMT", device, error)
            }
            let granted = PixelFormat(code: format.fmt.pix.pixelformat)
            let pix = format.fmt.pix
            guard PixelFormat.preferred.contains(granted), pix.width > 0, pix.height > 0 else { continue }
            return (granted, Int(pix.width), Int(pix.height), Int(pix.bytesperline))
        }
        throw CaptureError(.noUsableFormat, device: device,
                           "accepted none of \(candidates.map(\.description).joined(separator: ", "))")
    }

    /// Requests `fps` (when given) and returns the rate the driver reports, nil if it does not say.
    func negotiateFrameRate(_ fps: Double?) throws(CaptureError) -> Double? {
        var parameters = v4l2_streamparm()
        parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        let request: UInt
        if let fps {
            request = CV4L2_VIDIOC_S_PARM
            parameters.parm.capture.timeperframe = v4l2_fract(numerator: 1000, denominator: UInt32(clamping: Int((fps * 1000).rounded())))
        } else {
            request = CV4L2_VIDIOC_G_PARM
        }
        do { try system.ioctl(descriptor, request, &parameters) } catch {
            // Many drivers have no frame-rate control: they run at their own rate.
            if error.code == EINVAL || error.code == ENOTTY { return nil }
            throw CaptureError.during(fps == nil ? "VIDIOC_G_PARM" : "VIDIOC_S_PARM", device, error)
        }
        let period = parameters.parm.capture.timeperframe
        guard period.numerator > 0, period.denominator > 0 else { return nil }
        return Double(period.denominator) / Double(period.numerator)
    }

    /// Asks for `count` mmap buffers; returns how many the driver granted (at least 2).
    func requestBuffers(_ count: Int) throws(CaptureError) -> Int {
        var request = v4l2_requestbuffers()
        request.count = UInt32(count)
        request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        request.memory = V4L2_MEMORY_MMAP.rawValue
        do { try system.ioctl(descriptor, CV4L2_VIDIOC_REQBUFS, &request) } catch {
            if error.code == EINVAL { throw CaptureError(.failed, device: device, "does not support mmap streaming") }
            throw CaptureError.during("VIDIOC_REQBUFS", device, error)
        }
        guard request.count >= 2 else {
            throw CaptureError(.failed, device: device, "granted only \(request.count) buffers; streaming needs at least 2")
        }
        return Int(request.count)
    }

    func mapBuffer(_ index: Int) throws(CaptureError) -> (address: UnsafeMutableRawPointer, length: Int) {
        var buffer = CameraSource.emptyBuffer()
        buffer.index = UInt32(index)
        do { try system.ioctl(descriptor, CV4L2_VIDIOC_QUERYBUF, &buffer) } catch {
            throw CaptureError.during("VIDIOC_QUERYBUF", device, error)
        }
        let length = Int(buffer.length)
        do { return (try system.map(descriptor, length: length, offset: Int(buffer.m.offset)), length) } catch {
            throw CaptureError.during("mmap of buffer \(index)", device, error)
        }
    }

    func queueBuffer(_ index: Int) throws(CaptureError) {
        var buffer = CameraSource.emptyBuffer()
        buffer.index = UInt32(index)
        do { try system.ioctl(descriptor, CV4L2_VIDIOC_QBUF, &buffer) } catch { throw CaptureError.during("VIDIOC_QBUF", device, error) }
    }

    /// Stops streaming: the driver gives every buffer back, filled or not.
    func streamOff() throws(CaptureError) {
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        do { try system.ioctl(descriptor, CV4L2_VIDIOC_STREAMOFF, &type) } catch {
            throw CaptureError.during("VIDIOC_STREAMOFF", device, error)
        }
    }

    func streamOn() throws(CaptureError) {
        var type = Int32(V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue)
        do { try system.ioctl(descriptor, CV4L2_VIDIOC_STREAMON, &type) } catch {
            throw CaptureError.during("VIDIOC_STREAMON", device, error)
        }
    }

    /// A fixed-size C char array (a tuple in Swift) as a String.
    static func string<T>(_ characters: T) -> String {
        withUnsafeBytes(of: characters) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
