import Foundation

/// Finds the face cascade at run time: OpenCV's frontal face cascade from Debian's opencv-data.
public enum CascadeLocator {
    /// Overrides the search with a cascade file of the user's.
    public static let environmentVariable = "FER_LIVE_CASCADE"

    static let candidates = [
        "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",   // Debian 11+, Ubuntu 20.04+
        "/usr/share/opencv/haarcascades/haarcascade_frontalface_default.xml",    // older releases
        "/usr/local/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",   // built from source
    ]

    /// `$FER_LIVE_CASCADE` if set, else the first installed candidate, else nil.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let chosen = environment[environmentVariable], !chosen.isEmpty { return chosen }
        return candidates.first { FileManager.default.isReadableFile(atPath: $0) }
    }
}
