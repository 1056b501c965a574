import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML element: name, text and children, in document order. Just enough of a DOM for the
/// OpenCV cascade files, which nest elements and keep numbers in element text. (Not Foundation's
/// XMLElement, which FoundationXML also declares.)
final class XMLTreeElement {
    let name: String
    var text = ""
    var children: [XMLTreeElement] = []
    init(name: String) { self.name = name }

    /// The first child called `name`.
    func child(_ name: String) -> XMLTreeElement? { children.first { $0.name == name } }

    /// The whitespace-separated tokens of the element's text.
    var tokens: [Substring] { text.split(whereSeparator: \.isWhitespace) }
    var trimmedText: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Why a document could not be parsed.
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses a whole document; throws, with the line, when it is not well-formed.
    static func parse(_ data: Data) throws(ParseError) -> XMLTreeElement {
        // FoundationXML traps (it does not throw) when libxml2 hands it a name that is not UTF-8, so
        // bytes that are not UTF-8 never reach it. Cascade files are ASCII.
        if let offset = firstInvalidUTF8(in: data) {
            throw ParseError(description: "not UTF-8 text (byte \(offset) is not part of a UTF-8 character)")
        }
        // FoundationXML also crashes on a processing instruction without data (it calls strlen on
        // NULL). Cascade files have none but the XML declaration at the top.
        if let offset = firstProcessingInstruction(in: data) {
            throw ParseError(description: "a processing instruction at byte \(offset) (cascade files have none but <?xml ...?> first)")
        }
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            throw ParseError(description: "not well-formed XML (line \(parser.lineNumber)): \(parser.parserError?.localizedDescription ?? "unknown error")")
        }
        // A truncated file can parse without complaint; its open elements give it away.
        if let open = builder.stack.last {
            throw ParseError(description: "not well-formed XML: the file ends inside <\(open.name)> (truncated?)")
        }
        return root
    }

    /// The offset of the first "<?" other than a leading XML declaration; nil when there is none.
    static func firstProcessingInstruction(in data: Data) -> Int? {
        let bytes = [UInt8](data)
        var start = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }   // a UTF-8 byte order mark
        while start < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[start]) { start += 1 }
        var index = start
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: "<"), bytes[index + 1] == UInt8(ascii: "?") {
                let declaration = index == start && bytes[index...].starts(with: Array("<?xml ".utf8))
                if !declaration { return index }
            }
            index += 1
        }
        return nil
    }

    /// The offset of the first byte that does not belong to a valid UTF-8 sequence; nil when all do.
    static func firstInvalidUTF8(in data: Data) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = data.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded): offset += encoded.count
            case .error: return offset
            case .emptyInput: return nil
            }
        }
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: XMLTreeElement?
        var stack: [XMLTreeElement] = []

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            let element = XMLTreeElement(name: name)
            if let parent = stack.last { parent.children.append(element) } else { root = element }
            stack.append(element)
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { stack.last?.text += string }
    }
}
