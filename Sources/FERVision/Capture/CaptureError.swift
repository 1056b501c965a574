import Foundation

/// Why capture cannot start or go on: one line naming the device, what happened and what to try.
public struct CaptureError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case noSuchDevice, permissionDenied, busy, notCaptureDevice, noUsableFormat, noFrame, unplugged, failed
    }

    public let kind: Kind
    public let device: String
    public let detail: String

    public init(_ kind: Kind, device: String, _ detail: String) {
        self.kind = kind
        self.device = device
        self.detail = detail
    }

    public var description: String {
        let hint: String
        switch kind {
        case .noSuchDevice: hint = "`fer-live devices` lists the cameras; `fer-live replay DIR` runs on recorded frames"
        case .permissionDenied: hint = "add yourself to the video group: sudo usermod -aG video $USER, then log in again"
        case .busy: hint = "another program is using the camera; close it and try again"
        case .notCaptureDevice: hint = "`fer-live devices` shows which nodes capture video"
        case .noUsableFormat: hint = "libv4l2 could not convert the camera's formats; `fer-live devices` lists them"
        case .noFrame: hint = "is the lens covered or the camera in use? try another --device or a lower --fps"
        case .unplugged: hint = "the camera was disconnected"
        case .failed: hint = "`fer-live devices` shows what the camera supports"
        }
        return "\(device): \(detail) (\(hint))"
    }

    /// Maps the errno of opening a device to what it means for the user.
    static func opening(_ device: String, _ error: SystemCallError) -> CaptureError {
        switch error.code {
        case ENOENT, ENXIO: return CaptureError(.noSuchDevice, device: device, "no such device")
        case EACCES, EPERM: return CaptureError(.permissionDenied, device: device, "permission denied")
        case EBUSY: return CaptureError(.busy, device: device, "device is busy")
        case ENODEV: return CaptureError(.unplugged, device: device, "device is gone")
        case ENOTTY, EINVAL: return CaptureError(.notCaptureDevice, device: device, "is not a V4L2 video device")
        default: return CaptureError(.failed, device: device, "cannot open: \(error)")
        }
    }

    /// Maps the errno of an ioctl during set-up or streaming.
    static func during(_ step: String, _ device: String, _ error: SystemCallError) -> CaptureError {
        switch error.code {
        case ENODEV: return CaptureError(.unplugged, device: device, "device disappeared (\(step))")
        case EBUSY: return CaptureError(.busy, device: device, "device is busy (\(step))")
        default: return CaptureError(.failed, device: device, "\(step) failed: \(error)")
        }
    }
}
