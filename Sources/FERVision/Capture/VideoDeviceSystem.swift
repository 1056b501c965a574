import Foundation

/// A failed system call: the errno it left.
public struct SystemCallError: Error, Equatable, CustomStringConvertible {
    public let code: Int32
    public init(_ code: Int32) { self.code = code }
    public var description: String { String(cString: strerror(code)) }
}

/// What `poll` saw on a device.
public enum PollOutcome: Equatable, Sendable {
    /// A filled buffer can be dequeued.
    case readable
    /// Nothing within the timeout.
    case timedOut
    /// The device reported an error or hang-up (a camera unplugged).
    case failed
}

/// The system calls video capture makes: open, ioctl, mmap, poll, close.
///
/// Capture goes through this and nothing else, so the real device (libv4l2) and an in-memory driver
/// for tests are interchangeable. Each call either succeeds or throws the errno the kernel (or the
/// fake) set; the V4L2 structs are passed as raw pointers exactly as to `ioctl(2)`.
public protocol VideoDeviceSystem: AnyObject {
    /// Opens a device node read-write and non-blocking; returns its descriptor.
    func open(_ path: String) throws(SystemCallError) -> Int32
    func close(_ descriptor: Int32)
    /// One V4L2 ioctl; `argument` points at the request's struct.
    func ioctl(_ descriptor: Int32, _ request: UInt, _ argument: UnsafeMutableRawPointer) throws(SystemCallError)
    /// Maps `length` bytes of a driver buffer at `offset` (from VIDIOC_QUERYBUF) read-write, shared.
    func map(_ descriptor: Int32, length: Int, offset: Int) throws(SystemCallError) -> UnsafeMutableRawPointer
    func unmap(_ address: UnsafeMutableRawPointer, length: Int)
    /// Waits up to `timeout` seconds for a filled buffer.
    func poll(_ descriptor: Int32, timeout: Double) throws(SystemCallError) -> PollOutcome
    /// The device nodes present (e.g. /dev/video0), for `fer-live devices`.
    func deviceNodes() -> [String]
}
