import CV4L2
import Foundation

/// The real devices, through libv4l2: its format conversion (libv4lconvert) lets any camera, MJPEG or
/// YUYV, deliver the planar YUV 4:2:0 we ask for.
public final class LibV4L2System: VideoDeviceSystem {
    public init() {}

    /// Opens the node and checks it is a V4L2 device before libv4l2 takes it over: libv4l2 would print
    /// its own message for a file that is not one, and we give a clearer one. Nodes that cannot capture
    /// video (a UVC camera's metadata node, /dev/video1 on most laptops) or have no format to report stay
    /// with the kernel: libv4l2 would print "error getting pixformat" for them, and the caller refuses
    /// them in its own words.
    public func open(_ path: String) throws(SystemCallError) -> Int32 {
        let descriptor = Glibc.open(path, O_RDWR | O_NONBLOCK)
        guard descriptor >= 0 else { throw SystemCallError(errno) }
        var capability = v4l2_capability()
        guard CV4L2_kernel_ioctl(descriptor, CV4L2_VIDIOC_QUERYCAP, &capability) == 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw SystemCallError(code)
        }
        let caps = capability.capabilities & UInt32(V4L2_CAP_DEVICE_CAPS) != 0 ? capability.device_caps : capability.capabilities
        // libv4l2 passes calls on descriptors it does not manage straight to the kernel.
        guard caps & UInt32(V4L2_CAP_VIDEO_CAPTURE) != 0 else { return descriptor }
        var format = v4l2_format()
        format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE.rawValue
        guard CV4L2_kernel_ioctl(descriptor, CV4L2_VIDIOC_G_FMT, &format) == 0 else { return descriptor }
        guard v4l2_fd_open(descriptor, 0) >= 0 else {
            let code = errno
            Glibc.close(descriptor)
            throw SystemCallError(code)
        }
        return descriptor
    }

    public func close(_ descriptor: Int32) { _ = v4l2_close(descriptor) }

    public func ioctl(_ descriptor: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) throws(SystemCallError) {
        guard CV4L2_ioctl(descriptor, request, argument) == 0 else { throw SystemCallError(errno) }
    }

    public func map(_ descriptor: Int32, length: Int, offset: Int) throws(SystemCallError) -> UnsafeMutableRawPointer {
        let address = v4l2_mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, Int64(offset))
        guard let address, address != MAP_FAILED else { throw SystemCallError(errno) }
        return address
    }

    public func unmap(_ address: UnsafeMutableRawPointer, length: Int) { _ = v4l2_munmap(address, length) }

    public func poll(_ descriptor: Int32, timeout: Double) throws(SystemCallError) -> PollOutcome {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let ready = Glibc.poll(&entry, 1, Int32(max(0, min(timeout, 3600)) * 1000))
        if ready < 0 { throw SystemCallError(errno) }
        if ready == 0 { return .timedOut }
        if entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return .failed }
        return .readable
    }

    public func deviceNodes() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/dev")) ?? []
        return names.filter { $0.hasPrefix("video") && Int($0.dropFirst(5)) != nil }
            .sorted(by: naturallyOrdered).map { "/dev/\($0)" }
    }
}
