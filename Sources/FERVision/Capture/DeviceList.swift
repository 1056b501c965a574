import Foundation

/// One device node as `fer-live devices` shows it.
public struct VideoDeviceDescription: Sendable {
    public let path: String
    public let capability: DeviceCapability
    public let formats: [OfferedFormat]
}

/// The video devices present and what each offers.
public enum DeviceList {
    /// Every /dev/video* node: its description, or the reason it could not be read (busy, permission).
    public static func describeAll(system: VideoDeviceSystem = LibV4L2System())
        -> [(path: String, result: Result<VideoDeviceDescription, CaptureError>)] {
        system.deviceNodes().map { path in (path, Result { () throws(CaptureError) in try describe(path, system: system) }) }
    }

    /// Opens one device node and reads its capabilities, formats and frame sizes.
    public static func describe(_ path: String, system: VideoDeviceSystem = LibV4L2System()) throws(CaptureError) -> VideoDeviceDescription {
        let descriptor: Int32
        do { descriptor = try system.open(path) } catch { throw CaptureError.opening(path, error) }
        defer { system.close(descriptor) }
        let control = DeviceControl(system: system, descriptor: descriptor, device: path)
        let capability = try control.capability()
        return VideoDeviceDescription(path: path, capability: capability, formats: capability.canCapture ? try control.formats() : [])
    }
}
