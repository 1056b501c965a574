import ArgumentParser
import FERVision

/// fer-live: real-time facial-expression recognition for Linux.
@main
struct FERLive: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fer-live",
        abstract: "Recognize facial expressions (angry, disgust, fear, happy, sad, surprise, neutral) with a ResNet9.",
        discussion: """
            Start with `fer-live camera` (the webcam, live, in a window) or `fer-live replay DIR` (recorded frames).
            Faces are found with OpenCV's cascades (opencv-data), each scaled to 48x48 grayscale and classified
            by a ResNet9; `classify` takes face images and uses their center square.
            Without --model, the installed model is used: $\(DefaultModel.environmentVariable) if set, else \
            models/\(DefaultModel.fileName) in the current directory or beside the executable.
            """,
        subcommands: [Camera.self, Replay.self, Analyze.self, Devices.self, Classify.self, Detect.self, Train.self, Evaluate.self, Calibrate.self, Quantize.self, Report.self, Bench.self, Import.self]
    )

    /// OpenBLAS's kernels are settled first (a restart, before any thread or file exists, where it fell
    /// back to its generic ones); then signals are handled from the first moment, so a stream's start-up
    /// can be interrupted cleanly.
    static func main() {
        OpenBLASCore.restartWithBestKernelsIfNeeded()
        SignalStopper.shared.install()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
