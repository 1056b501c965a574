/// `text` safe inside an SVG (XML) element or attribute: the five characters XML reserves, escaped. Every
/// SVG writer passes what it did not write itself (class names from a model file, titles from paths)
/// through this, so a name like "a<b" cannot break the document.
func svgEscaped(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&apos;"
        default: out.append(character)
        }
    }
    return out
}
