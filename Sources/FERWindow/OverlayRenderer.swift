import FERVision
import Foundation

/// What the HUD shows besides the frame's own result.
struct HUDState {
    var framesPerSecond: Double?
    var latencyMilliseconds: Double?
    var dropped = 0
    var paused = false
    var recordingTo: String?
}

/// Draws one result with the overlay layout: the frame, the crop box, the label, a bar per class (the
/// top class highlighted) and the HUD.
struct OverlayRenderer {
    let layout: OverlayLayout

    func draw(_ result: FrameResult, hud: HUDState, on window: SDLWindow) {
        window.clear(OverlayColors.background)
        window.draw(result.frame.image, in: layout.frame)
        window.outline(layout.onCanvas(result.box), OverlayColors.box, thickness: 2)
        window.fill(layout.panel, OverlayColors.panel)

        let prediction = result.prediction
        let top = prediction.probabilities.indices.max { prediction.probabilities[$0] < prediction.probabilities[$1] } ?? 0
        window.text(String(format: "%@ %.0f%%", prediction.label, prediction.confidence * 100), x: layout.label.x, y: layout.label.y,
                    size: 28, color: OverlayColors.topBar, centeredIn: layout.label.height)
        for (index, probability) in prediction.probabilities.enumerated().prefix(layout.classCount) {
            let name = layout.name(index), percent = layout.percent(index)
            let isTop = index == top
            window.text(prediction.classNames[index], x: name.x, y: name.y, size: 16,
                        color: isTop ? OverlayColors.text : OverlayColors.dimText, centeredIn: name.height)
            window.fill(layout.track(index), OverlayColors.track)
            window.fill(layout.bar(index, probability: probability), isTop ? OverlayColors.topBar : OverlayColors.bar)
            window.text(String(format: "%.0f%%", probability * 100), x: percent.x + percent.width, y: percent.y, size: 15,
                        color: isTop ? OverlayColors.text : OverlayColors.dimText, centeredIn: percent.height, alignRight: true)
        }

        let inference = (result.times.inferred - result.times.preprocessed) * 1000
        var lines = [
            hud.framesPerSecond.map { String(format: "%.1f fps   %d dropped", $0, hud.dropped) } ?? "- fps   \(hud.dropped) dropped",
            String(format: "inference %.1f ms", inference),
            hud.latencyMilliseconds.map { String(format: "latency %.1f ms (capture to screen)", $0) } ?? "latency -",
        ]
        if hud.paused { lines.append("paused (space resumes)") } else if let recordingTo = hud.recordingTo {
            lines.append("recording to \((recordingTo as NSString).lastPathComponent)")
        }
        for (row, line) in lines.enumerated() {
            window.text(line, x: layout.hud.x, y: layout.hud.y + row * 20, size: 14, color: OverlayColors.dimText)
        }
    }
}
