import Foundation

/// Finds OpenCV's cascades at run time, from Debian's opencv-data: the frontal face cascade that finds
/// faces, and the eye cascade that aligns them.
public enum CascadeFiles {
    /// Overrides the search with a face cascade file of the user's.
    public static let environmentVariable = "FER_LIVE_CASCADE"
    /// Overrides the search with an eye cascade file of the user's.
    public static let eyeEnvironmentVariable = "FER_LIVE_EYE_CASCADE"

    static let folders = [
        "/usr/share/opencv4/haarcascades",          // Debian 11+, Ubuntu 20.04+
        "/usr/share/opencv/haarcascades",           // older releases
        "/usr/local/share/opencv4/haarcascades",    // built from source
    ]
    static let faceCascade = "haarcascade_frontalface_default.xml"
    static let eyeCascade = "haarcascade_eye.xml"

    /// The face cascade: `$FER_LIVE_CASCADE` if set, else the first installed copy, else nil.
    public static func locate(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        locate(faceCascade, variable: environmentVariable, environment: environment)
    }

    /// The eye cascade: `$FER_LIVE_EYE_CASCADE` if set, else the first installed copy, else nil.
    public static func locateEyes(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        locate(eyeCascade, variable: eyeEnvironmentVariable, environment: environment)
    }

    private static func locate(_ file: String, variable: String, environment: [String: String]) -> String? {
        if let chosen = environment[variable], !chosen.isEmpty { return chosen }
        return folders.map { "\($0)/\(file)" }.first { FileManager.default.isReadableFile(atPath: $0) }
    }
}
