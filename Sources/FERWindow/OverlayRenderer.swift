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

/// Draws one result with the overlay layout: the frame, each face's box (numbered when faces are
/// found), and per face its label and a bar per class (the top class highlighted), then the HUD.
struct OverlayRenderer {
    let layout: OverlayLayout

    func draw(_ result: FrameResult, hud: HUDState, on window: OverlayCanvas) {
        window.clear(OverlayColors.background)
        window.draw(result.frame.image, chroma: result.frame.chroma, in: layout.frame)
        let numbered = layout.faceSlots > 1
        for face in result.faces {
            let box = layout.onCanvas(face.box)
            window.outline(box, OverlayColors.box, thickness: 2)
            if numbered {
                let tag = "\(face.index) \(face.prediction.label)"
                window.text(tag, x: box.x + 4, y: max(layout.frame.y, box.y - 20), size: 15, color: OverlayColors.box)
            }
        }
        window.fill(layout.panel, OverlayColors.panel)
        if result.faces.isEmpty {
            let label = layout.label()
            window.text("no face found", x: label.x, y: label.y, size: layout.metrics.labelFont, color: OverlayColors.dimText,
                        centeredIn: label.height)
        }
        for (slot, face) in result.faces.prefix(layout.faceSlots).enumerated() {
            drawBars(face, slot: slot, numbered: numbered, on: window)
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

    private func drawBars(_ face: FaceResult, slot: Int, numbered: Bool, on window: OverlayCanvas) {
        let prediction = face.prediction, metrics = layout.metrics
        let top = prediction.shownIndex   // the label shown: the steadied one, not necessarily this frame's top
        let label = layout.label(slot: slot)
        let title = String(format: "%@%@ %.0f%%", numbered ? "\(face.index): " : "", prediction.label, prediction.confidence * 100)
        window.text(title, x: label.x, y: label.y, size: metrics.labelFont, color: OverlayColors.topBar, centeredIn: label.height)
        for (index, probability) in prediction.probabilities.enumerated().prefix(layout.classCount) {
            let name = layout.name(index, slot: slot), percent = layout.percent(index, slot: slot)
            let isTop = index == top
            window.text(prediction.classNames[index], x: name.x, y: name.y, size: metrics.nameFont,
                        color: isTop ? OverlayColors.text : OverlayColors.dimText, centeredIn: name.height)
            window.fill(layout.track(index, slot: slot), OverlayColors.track)
            window.fill(layout.bar(index, probability: probability, slot: slot), isTop ? OverlayColors.topBar : OverlayColors.bar)
            window.text(String(format: "%.0f%%", probability * 100), x: percent.x + percent.width, y: percent.y, size: metrics.nameFont - 1,
                        color: isTop ? OverlayColors.text : OverlayColors.dimText, centeredIn: percent.height, alignRight: true)
        }
    }
}
