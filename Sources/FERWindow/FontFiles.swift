import Foundation

/// Finds a TrueType font at run time: DejaVu Sans from fonts-dejavu-core, where each distribution puts it.
public enum FontFiles {
    /// Overrides the search with a font file of the user's.
    public static let environmentVariable = "FER_LIVE_FONT"

    static let candidates = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",      // Debian, Ubuntu
        "/usr/share/fonts/TTF/DejaVuSans.ttf",                  // Arch
        "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",    // Fedora
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",               // openSUSE, older Fedora
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    ]

    /// The font to use: `$FER_LIVE_FONT` if set, else the first installed candidate, else nil.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let chosen = environment[environmentVariable], !chosen.isEmpty { return chosen }
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }
}
