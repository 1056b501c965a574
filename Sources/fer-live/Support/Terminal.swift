import ArgumentParser
import FERVision
import Foundation

/// Messages for the person at the terminal go to stderr, so stdout stays parseable output.
enum Terminal {
    /// Prints `fer-live: message` on stderr.
    static func error(_ message: String) {
        FileHandle.standardError.write(Data("fer-live: \(message)\n".utf8))
    }

    /// Prints an informational line on stderr.
    static func note(_ message: String) {
        FileHandle.standardError.write(Data("fer-live: note: \(message)\n".utf8))
    }
}

/// Decodes an image a command was given, or says in one line why it cannot (the command goes on with
/// the next image and fails at the end).
func decodedImage(at path: String) -> ByteImage? {
    do { return try ImageDecoder.decode(contentsOf: path) } catch {
        Terminal.error("\(error)")
        return nil
    }
}

/// A failure that ends a command: printed as one line, exit code 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command's body, turning any error into one `fer-live: ...` line on stderr and exit code 1.
func reportingFailures(_ body: () throws -> Void) throws {
    do { try body() } catch let exit as ExitCode { throw exit } catch {
        Terminal.error("\(error)")
        throw ExitCode.failure
    }
}
