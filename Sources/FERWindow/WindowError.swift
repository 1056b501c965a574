/// Why the window cannot open or draw: one line for the CLI user.
public struct WindowError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
