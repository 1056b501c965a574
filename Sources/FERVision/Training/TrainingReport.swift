import Foundation

extension TrainingHistory {
    /// history.json: the settings-free record of every epoch and every batch's learning rate.
    public var json: String {
        let epochs = self.epochs.map { record -> JSONValue in
            .object([
                ("epoch", .integer(record.epoch)), ("last_lr", .number(record.lastLearningRate)),
                ("train_loss", .number(record.trainLoss)), ("val_loss", .number(record.validationLoss)),
                ("val_acc", .number(record.validationAccuracy)), ("seconds", .number(record.seconds)),
                ("images_per_s", .number(record.imagesPerSecond)),
            ])
        }
        return JSONValue.object([("epochs", .array(epochs)), ("lrs", .array(learningRates.map { .number($0) }))]).serialized + "\n"
    }

    /// history.csv: one row per epoch.
    public var csv: String {
        var lines = ["epoch,last_lr,train_loss,val_loss,val_acc,seconds,images_per_s"]
        for r in epochs {
            lines.append("\(r.epoch),\(r.lastLearningRate),\(r.trainLoss),\(r.validationLoss),\(r.validationAccuracy),\(r.seconds),\(r.imagesPerSecond)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The reference's three plots as SVG files: accuracy vs epoch, losses vs epoch, learning rate vs batch.
    public var plots: [(name: String, svg: String)] {
        let epochNumbers = epochs.map { Double($0.epoch) }
        return [
            ("accuracy.svg", LinePlot(title: "Accuracy vs. No. of epochs", xLabel: "epoch", yLabel: "accuracy",
                                      series: [("val", epochNumbers, epochs.map(\.validationAccuracy), "#1f77b4")]).svg),
            ("loss.svg", LinePlot(title: "Loss vs. No. of epochs", xLabel: "epoch", yLabel: "loss",
                                  series: [("train", epochNumbers, epochs.map(\.trainLoss), "#1f77b4"),
                                           ("val", epochNumbers, epochs.map(\.validationLoss), "#d62728")]).svg),
            ("lr.svg", LinePlot(title: "Learning Rate vs. Batch no.", xLabel: "batch", yLabel: "learning rate",
                                series: [("lr", learningRates.indices.map(Double.init), learningRates, "#2ca02c")]).svg),
        ]
    }
}

/// A minimal SVG line chart with axes, ticks and a legend, readable in any browser.
struct LinePlot {
    let title: String
    let xLabel: String
    let yLabel: String
    let series: [(name: String, x: [Double], y: [Double], color: String)]

    var svg: String {
        let width = 640.0, height = 400.0, left = 70.0, right = 20.0, top = 40.0, bottom = 50.0
        let xs = series.flatMap(\.x), ys = series.flatMap(\.y).filter(\.isFinite)
        var (xMin, xMax) = (xs.min() ?? 0, xs.max() ?? 1), (yMin, yMax) = (ys.min() ?? 0, ys.max() ?? 1)
        if xMax == xMin { xMax = xMin + 1 }
        if yMax == yMin { yMax = yMin + 1 } else {
            // A little room above and below, but no negative axis for values that cannot be negative.
            let pad = (yMax - yMin) * 0.05
            yMin = yMin >= 0 ? max(0, yMin - pad) : yMin - pad
            yMax += pad
        }
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * (width - left - right) }
        func py(_ y: Double) -> Double { height - bottom - (y - yMin) / (yMax - yMin) * (height - top - bottom) }
        func label(_ v: Double) -> String { abs(v) >= 0.01 || v == 0 ? String(format: "%.3g", v) : String(format: "%.1e", v) }
        var out = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(width / 2)" y="22" text-anchor="middle" font-size="15">\(svgEscaped(title))</text>
            <line x1="\(left)" y1="\(height - bottom)" x2="\(width - right)" y2="\(height - bottom)" stroke="black"/>
            <line x1="\(left)" y1="\(top)" x2="\(left)" y2="\(height - bottom)" stroke="black"/>
            <text x="\(width / 2)" y="\(height - 12)" text-anchor="middle">\(svgEscaped(xLabel))</text>
            <text x="16" y="\(height / 2)" text-anchor="middle" transform="rotate(-90 16 \(height / 2))">\(svgEscaped(yLabel))</text>

            """
        for i in 0...4 {
            let fx = xMin + Double(i) / 4 * (xMax - xMin), fy = yMin + Double(i) / 4 * (yMax - yMin)
            out += "<text x=\"\(px(fx))\" y=\"\(height - bottom + 18)\" text-anchor=\"middle\">\(label(fx))</text>\n"
            out += "<text x=\"\(left - 6)\" y=\"\(py(fy) + 4)\" text-anchor=\"end\">\(label(fy))</text>\n"
            out += "<line x1=\"\(left)\" y1=\"\(py(fy))\" x2=\"\(width - right)\" y2=\"\(py(fy))\" stroke=\"#ddd\"/>\n"
        }
        for (k, s) in series.enumerated() {
            let points = zip(s.x, s.y).filter { $0.1.isFinite }.map { "\(px($0.0)),\(py($0.1))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\" points=\"\(points)\"/>\n"
            if s.x.count <= 50 {
                for (x, y) in zip(s.x, s.y) where y.isFinite {
                    out += "<circle cx=\"\(px(x))\" cy=\"\(py(y))\" r=\"3\" fill=\"\(s.color)\"/>\n"
                }
            }
            out += "<text x=\"\(width - right - 60)\" y=\"\(top + 16 * Double(k + 1))\" fill=\"\(s.color)\">\(svgEscaped(s.name))</text>\n"
        }
        return out + "</svg>\n"
    }
}
