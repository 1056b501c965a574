import Foundation

/// One input of a batch: a video file or a frame directory, and the name its results take in the
/// output folder.
struct BatchInput: Equatable {
    /// The path given to `replay` (as the user or the list gave it, so records name it the same way).
    let path: String
    /// The results' name inside the output folder, with the input's own folders: `day1/a.mp4` for
    /// `videos/day1/a.mp4` under a given `videos/`, the file's name for a file given alone.
    let key: String
}

/// Turns analyze's arguments into its inputs: files, folders walked for videos and frame directories,
/// and text files listing either, one path per line.
enum BatchInputs {
    /// What a video file is called; anything else in a walked folder is not an input.
    static let videoExtensions: Set<String> = ["mp4", "m4v", "mkv", "webm", "avi", "mov", "mpg", "mpeg", "ts", "wmv", "flv", "3gp"]
    /// What a frame directory holds.
    static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "pgm", "ppm"]
    /// A list of inputs, one path per line (`#` starts a comment), relative to the list's folder.
    static let listExtensions: Set<String> = ["txt", "list"]

    /// The inputs, in the order of their keys (so every shard of one batch sees the same order), and
    /// what a list named that is missing (recorded as failed, so one stale line does not stop a batch).
    /// `excluding` is a folder never walked into (the output folder, when it lies among the inputs).
    static func expand(_ arguments: [String], excluding: String?) throws -> (inputs: [BatchInput], missing: [BatchInput]) {
        var inputs: [BatchInput] = [], missing: [BatchInput] = []
        let excluded = excluding.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        for argument in arguments {
            guard let kind = kind(of: argument) else { throw CommandFailure("\(argument): no such file or folder") }
            if kind == .list {
                let (listed, gone) = try readList(argument)
                for entry in listed { inputs += try walk(entry, excluding: excluded) }
                missing += gone
            } else {
                inputs += try walk(argument, excluding: excluded)
            }
        }
        var byKey: [String: BatchInput] = [:]
        for input in inputs {
            if let other = byKey[input.key], other.path != input.path {
                throw CommandFailure("\(other.path) and \(input.path) would both write results named \(input.key): give their common folder instead")
            }
            byKey[input.key] = input
        }
        return (byKey.values.sorted { $0.key < $1.key }, missing.filter { byKey[$0.key] == nil })
    }

    enum Kind { case video, frameDirectory, folder, list }

    static func kind(of path: String) -> Kind? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        if isDirectory.boolValue { return holdsImages(path) ? .frameDirectory : .folder }
        return listExtensions.contains((path as NSString).pathExtension.lowercased()) ? .list : .video
    }

    /// A video or frame directory is itself the input; a folder yields the videos and frame directories
    /// inside it, at any depth, keyed by their path inside it.
    private static func walk(_ path: String, excluding: String?) throws -> [BatchInput] {
        switch kind(of: path) {
        case .video, .frameDirectory: return [BatchInput(path: path, key: (path as NSString).lastPathComponent)]
        case .list: throw CommandFailure("\(path): a list inside a list: name its inputs in the first one")
        case nil: return []
        case .folder:
            var found: [BatchInput] = []
            func visit(_ folder: String, relative: String) {
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
                for name in names.sorted() where !name.hasPrefix(".") {
                    let full = (folder as NSString).appendingPathComponent(name)
                    let key = relative.isEmpty ? name : relative + "/" + name
                    var isDirectory: ObjCBool = false
                    guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory) else { continue }
                    if isDirectory.boolValue {
                        if let excluding, URL(fileURLWithPath: full).standardizedFileURL.path == excluding { continue }
                        if holdsImages(full) { found.append(BatchInput(path: full, key: key)) } else { visit(full, relative: key) }
                    } else if videoExtensions.contains((name as NSString).pathExtension.lowercased()) {
                        found.append(BatchInput(path: full, key: key))
                    }
                }
            }
            visit(path, relative: "")
            if found.isEmpty { throw CommandFailure("\(path): no videos (\(videoExtensions.sorted().joined(separator: ", "))) or frame directories in it") }
            return found
        }
    }

    private static func holdsImages(_ folder: String) -> Bool {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return false }
        return names.contains { !$0.hasPrefix(".") && imageExtensions.contains(($0 as NSString).pathExtension.lowercased()) }
    }

    /// The paths a list names (relative ones against the list's folder), and the ones that are missing.
    private static func readList(_ path: String) throws -> (present: [String], missing: [BatchInput]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw CommandFailure("\(path): cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw CommandFailure("\(path): not UTF-8 text (a list takes one path per line)") }
        let folder = (path as NSString).deletingLastPathComponent
        var present: [String] = [], missing: [BatchInput] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let entry = line.trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty, !entry.hasPrefix("#") else { continue }
            let full = entry.hasPrefix("/") || folder.isEmpty ? entry : (folder as NSString).appendingPathComponent(entry)
            if kind(of: full) == nil {
                missing.append(BatchInput(path: full, key: (full as NSString).lastPathComponent))
            } else {
                present.append(full)
            }
        }
        return (present, missing)
    }

    /// The part of `inputs` shard `index` of `count` takes (1-based): every count-th input, from the
    /// index-th, of the key-ordered list, so the shards are disjoint, cover it all, and have equal size
    /// within one.
    static func shard(_ inputs: [BatchInput], index: Int, count: Int) -> [BatchInput] {
        inputs.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }
}
