@testable import FERVision
import Foundation

/// 640x480 frames composed from FER2013 faces at known places, for the detection and tracking tests:
/// one to three faces per frame, 80-200 px, on a textured background (smooth blobs plus fine noise).
enum FaceScenes {
    struct Scene {
        let image: ByteImage
        /// Where each face was placed.
        let faces: [PixelRect]
        /// Each face's FER2013 class index.
        let labels: [Int]
    }

    static func compose(count: Int, from folder: ImageFolder, seed: UInt64, width: Int = 640, height: Int = 480,
                        faceSizes: ClosedRange<Int> = 80...200, facesPerFrame: ClosedRange<Int> = 1...3) -> [Scene] {
        var random = SplitMix64(seed: seed)
        func uniform(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(random.next() % UInt64(range.count)) }
        return (0..<count).map { _ in
            let coarse = ByteImage(width: 16, height: 12, pixels: (0..<(16 * 12)).map { _ in UInt8(uniform(40...199)) })
            var pixels = LinearResize.resize(coarse, width: width, height: height).map { value in
                UInt8(clamping: Int(value) + uniform(-20...20))
            }
            var faces: [PixelRect] = [], labels: [Int] = []
            for _ in 0..<uniform(facesPerFrame) {
                for _ in 0..<50 {
                    let side = uniform(faceSizes)
                    let box = PixelRect(x: uniform(0...(width - side)), y: uniform(0...(height - side)), width: side, height: side)
                    guard faces.allSatisfy({ $0.overlap(with: box) == 0 && !touches($0, box) }) else { continue }
                    let index = uniform(0...(folder.count - 1))
                    let face = ByteImage(width: folder.size, height: folder.size, pixels: Array(folder.image(index)))
                    let scaled = LinearResize.resize(face, width: side, height: side)
                    for y in 0..<side { for x in 0..<side { pixels[(box.y + y) * width + box.x + x] = scaled[y * side + x] } }
                    faces.append(box)
                    labels.append(folder.labels[index])
                    break
                }
            }
            return Scene(image: ByteImage(width: width, height: height, pixels: pixels), faces: faces, labels: labels)
        }
    }

    private static func touches(_ a: PixelRect, _ b: PixelRect) -> Bool {
        !(a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y)
    }

    /// How many of `placed` some box of `found` overlaps by at least `threshold` (each found box used once).
    static func matches(_ found: [PixelRect], _ placed: [PixelRect], threshold: Double) -> Int {
        var used = Set<Int>()
        var hits = 0
        for box in placed {
            let best = found.indices.filter { !used.contains($0) }.max { found[$0].overlap(with: box) < found[$1].overlap(with: box) }
            if let best, found[best].overlap(with: box) >= threshold {
                used.insert(best)
                hits += 1
            }
        }
        return hits
    }
}
