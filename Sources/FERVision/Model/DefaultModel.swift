import Foundation

/// Where the model that ships with fer-live is found when no `--model` is given.
public enum DefaultModel {
    /// The shipped model's file name, inside `models/`.
    public static let fileName = "resnet9-fer2013.safetensors"
    /// Environment variable that names a model file and overrides the search.
    public static let environmentVariable = "FER_LIVE_MODEL"

    /// The places searched, in order: `$FER_LIVE_MODEL`; `models/` in the current directory; `models/`
    /// beside the executable and up to three folders above it (a build inside a checkout);
    /// `../share/fer-live/models/` relative to the executable (an installed copy).
    public static func candidates(executablePath: String = CommandLine.arguments.first ?? "") -> [String] {
        var paths: [String] = []
        if let named = ProcessInfo.processInfo.environment[environmentVariable], !named.isEmpty { paths.append(named) }
        paths.append(FileManager.default.currentDirectoryPath + "/models/" + fileName)
        var folder = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
        paths.append(folder.deletingLastPathComponent().appendingPathComponent("share/fer-live/models/\(fileName)").path)
        for _ in 0...3 {
            paths.append(folder.appendingPathComponent("models/\(fileName)").path)
            folder = folder.deletingLastPathComponent()
        }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }

    /// `$FER_LIVE_MODEL` when set (whether or not it exists, so a typo is reported rather than
    /// silently replaced), else the first candidate that exists, or nil when no model is installed.
    public static func locate() -> String? {
        if let named = ProcessInfo.processInfo.environment[environmentVariable], !named.isEmpty { return named }
        return candidates().first { FileManager.default.fileExists(atPath: $0) }
    }
}
