import Foundation

/// Why a dataset, a frame directory or a video could not be used: one line naming the folder or file.
public struct DatasetError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let detail: String
    public init(path: String, _ detail: String) {
        self.path = path
        self.detail = detail
    }
    public var description: String { "\(path): \(detail)" }
}
