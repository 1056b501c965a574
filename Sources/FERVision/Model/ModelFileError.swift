/// Why a model file could not be read or written. Each description is one line naming the file
/// (and the tensor or metadata key, when there is one), fit to show a CLI user as is.
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    /// What went wrong, for callers (and tests) that branch on it.
    public enum Kind: Equatable, Sendable {
        case unreadable, truncated, headerTooLarge, invalidHeader, offsetsOutOfRange
        case missingKey, unexpectedKey, wrongShape, unsupportedDType, nonFinite
        case invalidMetadata, unsupportedCheckpoint, notWritable
    }

    public let kind: Kind
    /// The file, as the user named it.
    public let path: String
    /// The tensor or metadata key at fault, if any.
    public let key: String?
    /// What is wrong, in words.
    public let detail: String

    public init(_ kind: Kind, path: String, key: String? = nil, _ detail: String) {
        self.kind = kind
        self.path = path
        self.key = key
        self.detail = detail
    }

    public var description: String {
        if let key { return "\(path): '\(key)': \(detail)" }
        return "\(path): \(detail)"
    }
}
