import Foundation

/// A one-line progress display on stderr: redrawn in place on a terminal; elsewhere a line per 10%, or
/// nothing at all for displays that only make sense on a terminal (`terminalOnly`).
final class ProgressBar {
    private let label: String
    private let interactive = isatty(STDERR_FILENO) != 0
    private let silent: Bool
    private var lastDraw = Date.distantPast
    private var lastTenth = -1

    init(label: String, terminalOnly: Bool = false) {
        self.label = label
        silent = terminalOnly && !interactive
    }

    /// Shows `fraction` done (0...1), the estimated seconds left, and a short `detail`.
    func update(fraction: Double, remaining: Double?, detail: String) {
        guard !silent else { return }
        let fraction = min(1, max(0, fraction))
        let eta = remaining.map { String(format: "ETA %d:%02d", Int($0) / 60, Int($0) % 60) } ?? ""
        let text = String(format: "%@ %5.1f%%  %@  %@", label, fraction * 100, detail, eta)
        if interactive {
            guard Date().timeIntervalSince(lastDraw) > 0.5 || fraction == 1 else { return }
            lastDraw = Date()
            let width = 24, filled = Int(fraction * Double(width))
            let bar = "[" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled) + "]"
            FileHandle.standardError.write(Data("\r\(bar) \(text)\u{1B}[K".utf8))
        } else {
            let tenth = Int(fraction * 10)
            guard tenth > lastTenth else { return }
            lastTenth = tenth
            FileHandle.standardError.write(Data("\(text)\n".utf8))
        }
    }

    func finish() {
        if interactive, !silent { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
