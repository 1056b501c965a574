import ArgumentParser
import FERVision
import Foundation

/// `fer-live camera`: the webcam, live, in the window.
struct Camera: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recognize expressions live from a webcam (Video4Linux), in a window or headless.",
        discussion: """
            Captures through libv4l2, which converts whatever the camera sends (MJPEG, YUYV, ...) to planar \
            YUV: the network reads its gray, the window and recordings show it in colour (--gray: in gray). Faces are found and tracked in every frame (see the Faces options). \
            The window shows the frame, a box per face, each face's emotion with its confidence and a bar \
            per class, and fps, inference time, latency and dropped frames; keys: q or Esc \
            quits, space pauses, s saves a screenshot, r starts or stops recording (replay it later with \
            `fer-live replay`). When inference falls behind, the newest frame wins and the others count as \
            dropped, so what you see is never stale. `fer-live devices` lists the cameras.

            Example: fer-live camera --device /dev/video0 --size 640x480 --fps 30 --output session.jsonl
            """)

    @Option(help: ArgumentHelp("The camera's device node.", valueName: "path"))
    var device = "/dev/video0"

    @Option(help: ArgumentHelp("Frame size to ask for; the size granted is noted (for a USB camera libv4l2 gives its largest size within this, or scales one down).", valueName: "WxH"))
    var size = "640x480"

    @Option(help: "Frame rate to ask the camera for (default: the camera's own).")
    var fps: Double?

    @Option(help: "Seconds to wait for a frame before giving up.")
    var timeout = 5.0

    @OptionGroup var modelOptions: ClassifierOptions
    @OptionGroup var runOptions: RunOptions
    @OptionGroup(title: "Faces") var faces: FaceOptions

    func validate() throws {
        guard parsedSize != nil else { throw ValidationError("--size takes WIDTHxHEIGHT, such as 640x480") }
        if let fps, !(fps > 0 && fps <= 1000) { throw ValidationError("--fps takes a rate in (0, 1000]") }
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout takes seconds in (0, 3600]") }
    }

    private var parsedSize: (width: Int, height: Int)? {
        let parts = size.lowercased().split(separator: "x")
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]), (1...16384).contains(width), (1...16384).contains(height) else { return nil }
        return (width, height)
    }

    func run() throws {
        SignalStopper.shared.holdUntilStopIsSet()   // a Ctrl-C from here on stops the run cleanly
        try reportingFailures {
            let (width, height) = parsedSize!
            let settings = CaptureSettings(device: device, width: width, height: height, framesPerSecond: fps, timeout: timeout)
            BLAS.setThreadCount(runOptions.threads)   // before the network is made: an 8-bit one compiles for them
            let classifier = try modelOptions.classifier(flipAveraging: runOptions.flip, live: true)
            let camera = try CameraSource(settings: settings, system: LibV4L2System(), color: runOptions.wantsColor)
            defer { camera.close() }
            Terminal.note("\(device): \(camera.format)")
            try LiveRun(options: runOptions, source: camera, classifier: classifier, locator: faces.locator(threads: runOptions.threads, searchEveryFrame: false), policy: .latestOnly, pacing: .live,
                        frameSize: (camera.format.width, camera.format.height),
                        heading: { frames, _ in "captured \(frames) frames from \(device) (\(camera.format))" }).runOnMainThread()
        }
    }
}
