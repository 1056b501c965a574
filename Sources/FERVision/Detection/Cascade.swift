import Foundation

/// A cascade file that cannot be used: names the file, the element and what is wrong with it.
public struct CascadeError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let element: String
    public let detail: String

    public init(path: String, element: String, _ detail: String) {
        self.path = path
        self.element = element
        self.detail = detail
    }

    public var description: String { element.isEmpty ? "\(path): \(detail)" : "\(path): <\(element)>: \(detail)" }
}

/// A boosted cascade of OpenCV's current XML format (opencv_traincascade), as Debian's opencv-data
/// installs them: Haar features (upright) or LBP features, stumps or deeper trees.
///
/// A window passes stage after stage; each stage sums its trees' leaf values and rejects the window
/// when the sum falls below the stage threshold.
public struct Cascade: Sendable {
    public enum FeatureType: String, Sendable { case haar = "HAAR", lbp = "LBP" }

    /// The largest window side accepted: a 256x256 window's sum of squares, 255^2 x 65,536, still fits the
    /// integral image's 32 bits (OpenCV's face cascades use 20 to 24).
    public static let largestWindow = 256

    struct Stage: Sendable {
        /// The file's threshold less OpenCV's 1e-5 guard, so borderline windows go the same way.
        let threshold: Float
        let firstTree: Int
        let treeCount: Int
    }

    struct Tree: Sendable {
        let firstNode: Int
        let nodeCount: Int
        let firstLeaf: Int
    }

    /// A split: `left` and `right` are a node index within the tree (> 0) or minus a leaf index (<= 0).
    struct Node: Sendable {
        let left: Int32, right: Int32
        let feature: Int32
        /// Haar: go left when the feature value is below it. LBP: unused (the subset decides).
        let threshold: Float
    }

    /// Up to three weighted rectangles of the detection window (x, y, width, height).
    struct HaarFeature: Sendable {
        let rects: [PixelRect]
        let weights: [Float]
    }

    public let featureType: FeatureType
    /// The window the cascade was trained on (24x24 for the frontal face cascades).
    public let windowWidth: Int, windowHeight: Int
    let stages: [Stage]
    let trees: [Tree]
    let nodes: [Node]
    let leaves: [Float]
    /// LBP: 256-bit category subsets, 8 words per node.
    let subsets: [Int32]
    let haarFeatures: [HaarFeature]
    /// LBP: the block (one of 3x3) of each feature.
    let lbpBlocks: [PixelRect]
    /// Every tree is a single split (as in haarcascade_frontalface_default).
    let isStumps: Bool

    /// The window inset by one pixel, whose mean and variance normalize Haar features (OpenCV's).
    var normRect: PixelRect { PixelRect(x: 1, y: 1, width: windowWidth - 2, height: windowHeight - 2) }

    /// The number of stages.
    public var stageCount: Int { stages.count }

    /// Reads a cascade file. Every number is checked, so a malformed file gives an error naming the
    /// element instead of a crash or a wrong detector.
    public static func load(contentsOf path: String) throws(CascadeError) -> Cascade {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CascadeError(path: path, element: "", FileManager.default.fileExists(atPath: path) ? "cannot be read" : "no such file")
        }
        return try decode(data, path: path)
    }

    /// Reads a cascade from a file's bytes; `path` names it in errors.
    public static func decode(_ data: Data, path: String) throws(CascadeError) -> Cascade {
        let root: XMLTreeElement
        do { root = try XMLTreeElement.parse(data) } catch { throw CascadeError(path: path, element: "", error.description) }
        return try CascadeReader(path: path).read(root)
    }

    init(featureType: FeatureType, windowWidth: Int, windowHeight: Int, stages: [Stage], trees: [Tree], nodes: [Node],
         leaves: [Float], subsets: [Int32], haarFeatures: [HaarFeature], lbpBlocks: [PixelRect]) {
        self.featureType = featureType
        self.windowWidth = windowWidth
        self.windowHeight = windowHeight
        self.stages = stages
        self.trees = trees
        self.nodes = nodes
        self.leaves = leaves
        self.subsets = subsets
        self.haarFeatures = haarFeatures
        self.lbpBlocks = lbpBlocks
        isStumps = trees.allSatisfy { $0.nodeCount == 1 }
    }
}

/// Turns the XML tree into a `Cascade`, checking as it goes.
private struct CascadeReader {
    let path: String

    func fail(_ element: String, _ detail: String) -> CascadeError { CascadeError(path: path, element: element, detail) }

    func integer(_ parent: XMLTreeElement, _ name: String, in context: String) throws(CascadeError) -> Int {
        guard let element = parent.child(name) else { throw fail(context, "has no <\(name)>") }
        guard let value = Int(element.trimmedText) else { throw fail("\(context)/\(name)", "'\(element.trimmedText)' is not an integer") }
        return value
    }

    /// Every token of the element's text as a finite number; the first that is not is the error.
    func numbers(_ element: XMLTreeElement, in context: String) throws(CascadeError) -> [Double] {
        var values: [Double] = []
        for token in element.tokens {
            guard let value = Double(token), value.isFinite, abs(value) <= Double(Float.greatestFiniteMagnitude) else {
                throw fail(context, "'\(token)' is not a finite number")
            }
            values.append(value)
        }
        return values
    }

    /// A number that must be a whole number of at most 32 bits (indices, pixel coordinates, LBP subsets).
    func whole(_ value: Double, in context: String, _ what: String) throws(CascadeError) -> Int {
        guard let integer = Int32(exactly: value) else { throw fail(context, "\(what) \(value) is not a 32-bit integer") }
        return Int(integer)
    }

    /// A rectangle of four whole numbers (x, y, width, height); 32-bit values keep the sums exact.
    func rectangle(_ numbers: ArraySlice<Double>, in context: String) throws(CascadeError) -> PixelRect {
        let v = Array(numbers)
        return PixelRect(x: try whole(v[0], in: context, "x"), y: try whole(v[1], in: context, "y"),
                         width: try whole(v[2], in: context, "width"), height: try whole(v[3], in: context, "height"))
    }

    func read(_ root: XMLTreeElement) throws(CascadeError) -> Cascade {
        guard root.name == "opencv_storage", let top = root.children.first else {
            throw fail(root.name, "not an OpenCV cascade file (expected <opencv_storage> with a cascade inside)")
        }
        let name = top.name
        guard let stageType = top.child("stageType")?.trimmedText else {
            throw fail(name, "has no <stageType>: an old-format (haartraining) cascade, which fer-live does not read; use one from opencv-data's haarcascades/ or lbpcascades/")
        }
        guard stageType == "BOOST" else { throw fail("\(name)/stageType", "'\(stageType)' is not BOOST") }
        let typeText = top.child("featureType")?.trimmedText ?? ""
        guard let featureType = Cascade.FeatureType(rawValue: typeText) else {
            throw fail("\(name)/featureType", "'\(typeText)' is not HAAR or LBP")
        }
        let width = try integer(top, "width", in: name), height = try integer(top, "height", in: name)
        // A window's sum of squares must fit the integral image's 32 bits: 255^2 x 256 x 256 does, 257 x 257 not.
        guard width > 2, height > 2, width <= Cascade.largestWindow, height <= Cascade.largestWindow else {
            throw fail("\(name)/width", "window \(width)x\(height) is not usable (2 < side <= \(Cascade.largestWindow))")
        }
        guard let parameters = top.child("featureParams") else { throw fail(name, "has no <featureParams>") }
        let categories = try integer(parameters, "maxCatCount", in: "\(name)/featureParams")
        guard (featureType == .haar && categories == 0) || (featureType == .lbp && categories == 256) else {
            throw fail("\(name)/featureParams/maxCatCount", "\(categories) does not fit \(featureType.rawValue) features")
        }

        let features = try readFeatures(top, featureType: featureType, width: width, height: height)
        var stages: [Cascade.Stage] = [], trees: [Cascade.Tree] = [], nodes: [Cascade.Node] = []
        var leaves: [Float] = [], subsets: [Int32] = []
        guard let stageList = top.child("stages"), !stageList.children.isEmpty else { throw fail(name, "has no stages") }
        let nodeWidth = featureType == .lbp ? 3 + 8 : 4
        for (s, stage) in stageList.children.enumerated() {
            let context = "\(name)/stages/_[\(s)]"
            guard let thresholdElement = stage.child("stageThreshold"),
                  let threshold = try numbers(thresholdElement, in: "\(context)/stageThreshold").first.map(Float.init) else {
                throw fail(context, "has no numeric <stageThreshold>")
            }
            guard let weak = stage.child("weakClassifiers"), !weak.children.isEmpty else { throw fail(context, "has no weak classifiers") }
            stages.append(Cascade.Stage(threshold: threshold - 1e-5, firstTree: trees.count, treeCount: weak.children.count))
            for (t, tree) in weak.children.enumerated() {
                let treeContext = "\(context)/weakClassifiers/_[\(t)]"
                guard let splitElement = tree.child("internalNodes"), let leafElement = tree.child("leafValues") else {
                    throw fail(treeContext, "needs <internalNodes> and <leafValues>")
                }
                let splits = try numbers(splitElement, in: "\(treeContext)/internalNodes")
                let leafValues = try numbers(leafElement, in: "\(treeContext)/leafValues")
                guard !splits.isEmpty, splits.count % nodeWidth == 0 else {
                    throw fail("\(treeContext)/internalNodes", "\(splits.count) numbers, not a multiple of \(nodeWidth)")
                }
                let nodeCount = splits.count / nodeWidth
                guard leafValues.count == nodeCount + 1 else {
                    throw fail("\(treeContext)/leafValues", "\(leafValues.count) leaves for \(nodeCount) splits (expected \(nodeCount + 1))")
                }
                trees.append(Cascade.Tree(firstNode: nodes.count, nodeCount: nodeCount, firstLeaf: leaves.count))
                for n in 0..<nodeCount {
                    let fields = Array(splits[(n * nodeWidth)..<((n + 1) * nodeWidth)])
                    let nodeContext = "\(treeContext)/internalNodes"
                    let left = try whole(fields[0], in: nodeContext, "child"), right = try whole(fields[1], in: nodeContext, "child")
                    let feature = try whole(fields[2], in: nodeContext, "feature")
                    // A child is a later node of this tree (n+1..<nodeCount) or a leaf (0 or negative): a tree
                    // walk always moves forward and ends, whatever the file says.
                    for child in [left, right] where child >= nodeCount || -child > nodeCount || (child > 0 && child <= n) {
                        throw fail(nodeContext, "node \(n)'s child \(child) is not a later node or a leaf of the tree")
                    }
                    guard feature >= 0, feature < features.count else {
                        throw fail(nodeContext, "feature \(feature) does not exist (\(features.count) features)")
                    }
                    if featureType == .lbp {
                        for word in fields[3...] { subsets.append(Int32(try whole(word, in: nodeContext, "category subset"))) }
                    }
                    nodes.append(Cascade.Node(left: Int32(left), right: Int32(right), feature: Int32(feature),
                                              threshold: featureType == .haar ? Float(fields[3]) : 0))
                }
                leaves += leafValues.map { Float($0) }
            }
        }
        return Cascade(featureType: featureType, windowWidth: width, windowHeight: height, stages: stages, trees: trees,
                       nodes: nodes, leaves: leaves, subsets: subsets,
                       haarFeatures: featureType == .haar ? features.map { $0.haar! } : [],
                       lbpBlocks: featureType == .lbp ? features.map { $0.block! } : [])
    }

    private struct Feature {
        var haar: Cascade.HaarFeature?
        var block: PixelRect?
    }

    private func readFeatures(_ top: XMLTreeElement, featureType: Cascade.FeatureType, width: Int, height: Int) throws(CascadeError) -> [Feature] {
        guard let list = top.child("features"), !list.children.isEmpty else { throw fail(top.name, "has no <features>") }
        var features: [Feature] = []
        for (f, element) in list.children.enumerated() {
            let context = "\(top.name)/features/_[\(f)]"
            if featureType == .lbp {
                let values = try element.child("rect").map { (rect) throws(CascadeError) in try numbers(rect, in: "\(context)/rect") } ?? []
                guard values.count == 4 else { throw fail("\(context)/rect", "needs x y width height") }
                let block = try rectangle(values[0..<4], in: "\(context)/rect")
                guard block.x >= 0, block.y >= 0, block.width > 0, block.height > 0,
                      block.x + 3 * block.width <= width, block.y + 3 * block.height <= height else {
                    throw fail("\(context)/rect", "3x3 blocks of \(block.width)x\(block.height) at (\(block.x), \(block.y)) leave the \(width)x\(height) window")
                }
                features.append(Feature(block: block))
                continue
            }
            if element.child("tilted").map({ $0.trimmedText != "0" }) == true {
                throw fail("\(context)/tilted", "tilted (45 degree) Haar features are not supported; the frontal face cascades have none")
            }
            guard let rects = element.child("rects")?.children, (1...3).contains(rects.count) else {
                throw fail("\(context)/rects", "needs one to three rectangles")
            }
            var boxes: [PixelRect] = [], weights: [Float] = []
            for (r, rect) in rects.enumerated() {
                let values = try numbers(rect, in: "\(context)/rects/_[\(r)]")
                guard values.count == 5 else { throw fail("\(context)/rects/_[\(r)]", "needs x y width height weight") }
                let box = try rectangle(values[0..<4], in: "\(context)/rects/_[\(r)]")
                guard box.x >= 0, box.y >= 0, box.width >= 0, box.height >= 0, box.x + box.width <= width, box.y + box.height <= height else {
                    throw fail("\(context)/rects/_[\(r)]", "rectangle leaves the \(width)x\(height) window")
                }
                boxes.append(box)
                weights.append(Float(values[4]))
            }
            while boxes.count < 3 {
                boxes.append(PixelRect(x: 0, y: 0, width: 0, height: 0))
                weights.append(0)
            }
            features.append(Feature(haar: Cascade.HaarFeature(rects: boxes, weights: weights)))
        }
        return features
    }
}
