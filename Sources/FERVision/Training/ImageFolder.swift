import Foundation

/// One split of an ImageFolder dataset (`split/<class>/<image>`), decoded once through the shared
/// preprocessing path (grayscale, center square, area resize) and held as 8-bit pixels.
///
/// Class order is the folder names sorted as strings, as torchvision's ImageFolder does. Folders named
/// 0...6 are FER2013 labels and get its emotion names; other folder names are kept as class names.
public struct ImageFolder: Sendable {
    /// Folder names in class order.
    public let folderNames: [String]
    /// Class names in class order (FER2013 names for folders 0...6).
    public let classNames: [String]
    /// Side of every stored image.
    public let size: Int
    /// `count * size * size` pixels, image after image.
    public let pixels: [UInt8]
    /// Class index of each image.
    public let labels: [Int]
    /// Images found but not decodable, with the reason (skipped, not fatal).
    public let skipped: [ImageError]

    public var count: Int { labels.count }

    /// Pixels of image `index`.
    public func image(_ index: Int) -> ArraySlice<UInt8> { pixels[index * size * size..<(index + 1) * size * size] }

    /// Reads `directory`'s class folders, decoding on `threads` threads.
    /// - Throws: when the folder is missing, has no class folders, or a class ends up with no image.
    public static func load(_ directory: String, size: Int = 48, threads: Int = 1) throws(DatasetError) -> ImageFolder {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DatasetError(path: directory, "no such folder")
        }
        let folders: [String]
        do {
            folders = try manager.contentsOfDirectory(atPath: directory).filter { name in
                var isFolder: ObjCBool = false
                return !name.hasPrefix(".") && manager.fileExists(atPath: "\(directory)/\(name)", isDirectory: &isFolder) && isFolder.boolValue
            }.sorted()
        } catch {
            throw DatasetError(path: directory, "cannot be listed")
        }
        guard !folders.isEmpty else { throw DatasetError(path: directory, "has no class folders (expected <class>/<image> inside)") }

        var found: [(path: String, label: Int)] = []
        for (label, folder) in folders.enumerated() {
            let names = ((try? manager.contentsOfDirectory(atPath: "\(directory)/\(folder)")) ?? [])
                .filter { ImageDecoder.fileExtensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            guard !names.isEmpty else { throw DatasetError(path: "\(directory)/\(folder)", "class folder holds no images") }
            found += names.map { ("\(directory)/\(folder)/\($0)", label) }
        }

        let files = found, preprocessor = Preprocessor(inputSize: size, channels: 1, mean: [0], std: [1])
        let plane = size * size
        let results = DecodedImages(count: files.count, plane: plane)
        let workers = max(1, threads)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: files.count, by: workers) {
                do {
                    let image = try ImageDecoder.decode(contentsOf: files[i].path)
                    guard let resized = preprocessor.resizedGray(image) else {
                        throw ImageError(.corrupt, path: files[i].path, "image is empty")
                    }
                    results.store(i, resized.map { UInt8(min(255, max(0, ($0 * 255).rounded()))) })
                } catch {
                    results.fail(i, error as? ImageError ?? ImageError(.corrupt, path: files[i].path, "\(error)"))
                }
            }
        }

        var pixels: [UInt8] = [], labels: [Int] = [], skipped: [ImageError] = []
        pixels.reserveCapacity(files.count * plane)
        for (i, file) in files.enumerated() {
            if let error = results.errors[i] { skipped.append(error); continue }
            pixels += results.pixels[i * plane..<(i + 1) * plane]
            labels.append(file.label)
        }
        for (label, folder) in folders.enumerated() where !labels.contains(label) {
            throw DatasetError(path: "\(directory)/\(folder)", "no image of this class could be read")
        }
        return ImageFolder(folderNames: folders, classNames: className(forFolders: folders), size: size,
                           pixels: pixels, labels: labels, skipped: skipped)
    }

    /// FER2013's emotion names for folders 0...6; any other folder name is its own class name.
    static func className(forFolders folders: [String]) -> [String] {
        folders.map { folder in
            if let index = Int(folder), ModelMetadata.fer2013ClassNames.indices.contains(index), String(index) == folder {
                return ModelMetadata.fer2013ClassNames[index]
            }
            return folder
        }
    }

    /// Mean and standard deviation of all pixels on the [0, 1] scale (the normalization to train with).
    public func pixelStatistics() -> (mean: Float, std: Float) {
        var sum = 0.0, squares = 0.0
        for value in pixels {
            let v = Double(value) / 255
            sum += v
            squares += v * v
        }
        let n = Double(max(1, pixels.count)), mean = sum / n
        return (Float(mean), Float(max(0, squares / n - mean * mean).squareRoot()))
    }
}

/// Per-image results written by decoding workers, each index by exactly one worker. The storage is
/// allocated once and written through its pointers (never through the arrays' accessors, which are not
/// safe to call from several threads at once): hence `@unchecked Sendable`.
private final class DecodedImages: @unchecked Sendable {
    private let pixelStorage: UnsafeMutableBufferPointer<UInt8>
    private let errorStorage: UnsafeMutableBufferPointer<ImageError?>
    let plane: Int

    init(count: Int, plane: Int) {
        self.plane = plane
        pixelStorage = .allocate(capacity: count * plane)
        pixelStorage.initialize(repeating: 0)
        errorStorage = .allocate(capacity: count)
        errorStorage.initialize(repeating: nil)
    }

    deinit {
        pixelStorage.deallocate()
        errorStorage.deinitialize()
        errorStorage.deallocate()
    }

    var pixels: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(pixelStorage) }
    var errors: UnsafeBufferPointer<ImageError?> { UnsafeBufferPointer(errorStorage) }

    func store(_ index: Int, _ values: [UInt8]) {
        for (k, v) in values.enumerated() { pixelStorage[index * plane + k] = v }
    }

    func fail(_ index: Int, _ error: ImageError) { errorStorage[index] = error }
}
