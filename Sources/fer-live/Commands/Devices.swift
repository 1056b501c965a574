import ArgumentParser
import FERVision
import Foundation

/// `fer-live devices`: the video devices and what each offers.
struct Devices: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the video devices (/dev/video*, or the nodes given): name, driver, whether they capture, formats and frame sizes.",
        discussion: """
            Formats marked "converted" are produced by libv4l2 from what the camera sends. Use a node that \
            captures with `fer-live camera --device PATH`.
            """)

    @Argument(help: ArgumentHelp("Device nodes to describe (default: every /dev/video*).", valueName: "node"))
    var nodes: [String] = []

    @Flag(help: "Print one JSON object per device instead of text.")
    var json = false

    func run() throws {
        let devices = nodes.isEmpty ? DeviceList.describeAll() : nodes.map { node in
            (node, Result { () throws(CaptureError) in try DeviceList.describe(node) })
        }
        if devices.isEmpty {
            if !json { print("no video devices (/dev/video*) found: is a camera plugged in? `fer-live replay DIR` runs on recorded frames") }
            return
        }
        for (path, result) in devices {
            switch result {
            case .success(let description): print(json ? Self.json(description) : Self.text(description))
            case .failure(let error):
                print(json ? JSONValue.object([("path", .string(path)), ("error", .string(error.description))]).serialized
                           : "\(path)\n  cannot be read: \(error)\n")
            }
        }
    }

    static func text(_ device: VideoDeviceDescription) -> String {
        let capability = device.capability
        var lines = ["\(device.path): \(capability.card) (driver \(capability.driver), \(capability.busInfo))",
                     "  captures video: \(capability.canCapture ? "yes" : "no")\(capability.canStream ? "" : ", no streaming")"]
        for format in device.formats {
            lines.append("  \(format.pixelFormat)  \(format.description)\(format.isConverted ? " (converted)" : "")")
            if !format.sizes.isEmpty { lines.append("        " + format.sizes.joined(separator: " ")) }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func json(_ device: VideoDeviceDescription) -> String {
        let formats = device.formats.map { format in
            JSONValue.object([("fourcc", .string(format.pixelFormat.description)), ("description", .string(format.description)),
                              ("converted", .bool(format.isConverted)), ("sizes", .array(format.sizes.map { .string($0) }))])
        }
        return JSONValue.object([("path", .string(device.path)), ("card", .string(device.capability.card)),
                                 ("driver", .string(device.capability.driver)), ("bus", .string(device.capability.busInfo)),
                                 ("capture", .bool(device.capability.canCapture)), ("streaming", .bool(device.capability.canStream)),
                                 ("formats", .array(formats))]).serialized
    }
}
