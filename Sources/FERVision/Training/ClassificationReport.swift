import Foundation

/// Accuracy, per-class precision/recall/F1 and the confusion matrix of predictions against labels.
public struct ClassificationReport: Sendable, Equatable {
    public let classNames: [String]
    /// confusion[true][predicted] counts.
    public let confusion: [[Int]]

    public init(classNames: [String], labels: [Int], predictions: [Int]) {
        precondition(labels.count == predictions.count)
        self.classNames = classNames
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classNames.count), count: classNames.count)
        for (label, prediction) in zip(labels, predictions) { confusion[label][prediction] += 1 }
        self.confusion = confusion
    }

    public var total: Int { confusion.joined().reduce(0, +) }
    public var accuracy: Double {
        Double(classNames.indices.map { confusion[$0][$0] }.reduce(0, +)) / Double(max(1, total))
    }

    /// Precision, recall, F1 and support of class `k` (0 where undefined, as scikit-learn reports).
    public func metrics(ofClass k: Int) -> (precision: Double, recall: Double, f1: Double, support: Int) {
        let truePositives = Double(confusion[k][k])
        let predicted = Double(classNames.indices.map { confusion[$0][k] }.reduce(0, +))
        let support = confusion[k].reduce(0, +)
        let precision = predicted > 0 ? truePositives / predicted : 0
        let recall = support > 0 ? truePositives / Double(support) : 0
        let f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
        return (precision, recall, f1, support)
    }

    /// Unweighted mean of the per-class F1 scores.
    public var macroF1: Double {
        classNames.indices.map { metrics(ofClass: $0).f1 }.reduce(0, +) / Double(max(1, classNames.count))
    }

    /// One JSON object: accuracy, macro_f1, per_class (name -> precision, recall, f1, support), confusion.
    public var json: JSONValue {
        .object([
            ("images", .integer(total)),
            ("accuracy", .number(accuracy)),
            ("macro_f1", .number(macroF1)),
            ("classes", .array(classNames.map { .string($0) })),
            ("per_class", .object(classNames.indices.map { k in
                let m = metrics(ofClass: k)
                return (classNames[k], .object([("precision", .number(m.precision)), ("recall", .number(m.recall)),
                                                ("f1", .number(m.f1)), ("support", .integer(m.support))]))
            })),
            ("confusion", .array(confusion.map { .array($0.map { .integer($0) }) })),
        ])
    }

    /// The report as aligned text tables.
    public var table: String {
        let nameWidth = max(9, (classNames.map(\.count).max() ?? 0) + 1)
        func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
            let fill = String(repeating: " ", count: max(0, width - s.count))
            return right ? fill + s : s + fill
        }
        var lines = [String(format: "accuracy %.4f   macro F1 %.4f   (%d images)", accuracy, macroF1, total), ""]
        lines.append(pad("class", nameWidth) + pad("precision", 10, right: true) + pad("recall", 8, right: true)
                     + pad("f1", 8, right: true) + pad("support", 9, right: true))
        for k in classNames.indices {
            let m = metrics(ofClass: k)
            lines.append(pad(classNames[k], nameWidth) + pad(String(format: "%.4f", m.precision), 10, right: true)
                         + pad(String(format: "%.4f", m.recall), 8, right: true) + pad(String(format: "%.4f", m.f1), 8, right: true)
                         + pad(String(m.support), 9, right: true))
        }
        lines += ["", "confusion matrix (rows: true class, columns: predicted)"]
        let cell = max(7, (classNames.map(\.count).max() ?? 0) + 1)
        lines.append(pad("", nameWidth) + classNames.map { pad(String($0.prefix(cell - 1)), cell, right: true) }.joined())
        for k in classNames.indices {
            lines.append(pad(classNames[k], nameWidth) + confusion[k].map { pad(String($0), cell, right: true) }.joined())
        }
        return lines.joined(separator: "\n")
    }

    /// The confusion matrix as CSV (rows: true class).
    public var confusionCSV: String {
        (["true\\predicted," + classNames.joined(separator: ",")]
         + classNames.indices.map { classNames[$0] + "," + confusion[$0].map(String.init).joined(separator: ",") })
            .joined(separator: "\n") + "\n"
    }

    /// The confusion matrix as an SVG heat map, each row shaded by its share of the true class.
    public var confusionSVG: String {
        let n = classNames.count, cell = 64.0, left = 100.0, top = 90.0
        let width = left + cell * Double(n) + 20, height = top + cell * Double(n) + 40
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="20" text-anchor="middle" font-size="15">Confusion matrix (accuracy \(String(format: "%.4f", accuracy)))</text>
            <text x="\(left + cell * Double(n) / 2)" y="42" text-anchor="middle">predicted</text>
            <text x="14" y="\(top + cell * Double(n) / 2)" text-anchor="middle" transform="rotate(-90 14 \(top + cell * Double(n) / 2))">true</text>

            """
        for k in 0..<n {
            out += "<text x=\"\(left + cell * (Double(k) + 0.5))\" y=\"\(top - 8)\" text-anchor=\"middle\">\(svgEscaped(classNames[k]))</text>\n"
            out += "<text x=\"\(left - 6)\" y=\"\(top + cell * (Double(k) + 0.5) + 4)\" text-anchor=\"end\">\(svgEscaped(classNames[k]))</text>\n"
        }
        for row in 0..<n {
            let support = max(1, confusion[row].reduce(0, +))
            for column in 0..<n {
                let share = Double(confusion[row][column]) / Double(support)
                let shade = Int(255 - share * 200)
                let x = left + cell * Double(column), y = top + cell * Double(row)
                out += "<rect x=\"\(x)\" y=\"\(y)\" width=\"\(cell)\" height=\"\(cell)\" fill=\"rgb(\(shade),\(shade),255)\" stroke=\"#999\"/>\n"
                out += "<text x=\"\(x + cell / 2)\" y=\"\(y + cell / 2 + 4)\" text-anchor=\"middle\">\(confusion[row][column])</text>\n"
            }
        }
        return out + "</svg>\n"
    }
}
