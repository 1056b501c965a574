import Foundation
import ZIPFoundation

/// Reads the zip checkpoints `torch.save(model.state_dict(), "x.pth")` writes (PyTorch 1.6 and later):
/// `<name>/data.pkl` (a pickle whose tensors point into storages by key), `<name>/data/<key>` (raw
/// little-endian storage bytes) and `<name>/byteorder`. No Python is involved.
public enum PyTorchCheckpoint {
    /// True when the bytes start like a zip archive (what torch.save writes).
    public static func looksLikeCheckpoint(_ data: Data) -> Bool {
        data.starts(with: [0x50, 0x4B, 0x03, 0x04]) || looksLikeLegacyCheckpoint(data)
    }

    /// Before PyTorch 1.6, torch.save wrote bare pickles (starting with PROTO, 0x80). A safetensors file
    /// can start with 0x80 too (its header length), but then its JSON header opens at byte 8.
    static func looksLikeLegacyCheckpoint(_ data: Data) -> Bool {
        data.first == 0x80 && !(data.count > 8 && data[data.startIndex + 8] == UInt8(ascii: "{"))
    }

    /// Reads the state dict in the checkpoint at `path`.
    /// Accepts a bare state dict, or a dict holding one under `state_dict`, `model_state_dict` or `model`
    /// (the usual training-checkpoint layouts); a `module.` prefix from DataParallel is removed.
    /// - Returns: the tensors and notes about what was adapted, for the user.
    public static func read(path: String) throws(ModelFileError) -> (StateDict, notes: [String]) {
        func failure(_ detail: String, key: String? = nil) -> ModelFileError {
            ModelFileError(.unsupportedCheckpoint, path: path, key: key, detail)
        }
        let url = URL(fileURLWithPath: path)
        let head: Data
        do {
            let handle = try FileHandle(forReadingFrom: url)
            defer { try? handle.close() }
            head = try handle.read(upToCount: 9) ?? Data()
        } catch {
            throw ModelFileError(.unreadable, path: path, "cannot read the file (\(describe(error)))")
        }
        if looksLikeLegacyCheckpoint(head) {
            throw failure("this is the legacy (before PyTorch 1.6) torch.save format; re-save it with a current PyTorch")
        }
        guard head.starts(with: [0x50, 0x4B, 0x03, 0x04]) else { throw failure("not a zip archive, so not a torch.save checkpoint") }

        let archive: Archive
        do { archive = try Archive(url: url, accessMode: .read) } catch {
            throw ModelFileError(.truncated, path: path, "the zip archive is damaged or truncated (\(describe(error)))")
        }
        guard let pickleEntry = archive.first(where: { $0.path.hasSuffix("data.pkl") && $0.type == .file }) else {
            throw failure("no data.pkl inside: not a torch.save checkpoint")
        }
        let prefix = String(pickleEntry.path.dropLast("data.pkl".count))
        /// An entry's bytes, refused past `limit`: by the size the archive states, and again while
        /// inflating (a decompression bomb can state a small size and inflate to gigabytes).
        func contents(_ entryPath: String, limit: Int) throws(ModelFileError) -> Data? {
            guard let entry = archive[entryPath] else { return nil }
            guard entry.uncompressedSize <= UInt64(limit) else {
                throw ModelFileError(.truncated, path: path, key: entryPath, "is \(entry.uncompressedSize) bytes, more than the \(limit) it may hold")
            }
            var data = Data()
            do {
                _ = try archive.extract(entry, skipCRC32: false) { chunk in
                    guard data.count + chunk.count <= limit else { throw Refusal(description: "inflates past \(limit) bytes") }
                    data.append(chunk)
                }
            } catch {
                throw ModelFileError(.truncated, path: path, key: entryPath, "cannot extract from the archive (\(describe(error)))")
            }
            return data
        }
        if let order = try contents(prefix + "byteorder", limit: 16), String(decoding: order, as: UTF8.self) != "little" {
            throw failure("saved on a big-endian machine; only little-endian checkpoints are supported")
        }
        guard let pickle = try contents(pickleEntry.path, limit: maximumPickleBytes) else { throw failure("data.pkl cannot be read") }

        let root: Unpickler.Value
        do {
            root = try Unpickler(reduce: rebuild, persistentLoad: storageReference).load(Array(pickle))
        } catch let error as Unpickler.Failure {
            throw failure("data.pkl at byte \(error.offset): \(error.detail)")
        } catch {
            throw failure("data.pkl: \(error)")
        }

        var notes: [String] = []
        guard case .dict(var dict) = root else {
            throw failure("holds a \(kind(of: root)), not a state dict; save model.state_dict()")
        }
        if !isTensorDict(dict) {
            guard let (name, inner) = dict.entries.lazy.compactMap({ entry -> (String, Unpickler.DictBox)? in
                guard case .string(let name) = entry.key, ["state_dict", "model_state_dict", "model"].contains(name),
                      case .dict(let inner) = entry.value, isTensorDict(inner) else { return nil }
                return (name, inner)
            }).first else {
                throw failure("holds a dict that is not a state dict of tensors; save model.state_dict()")
            }
            dict = inner
            notes.append("read the state dict stored under '\(name)'")
        }

        var storages: [String: Data] = [:]
        var stateDict = StateDict()
        let names = dict.entries.compactMap { entry -> String? in if case .string(let s) = entry.key { s } else { nil } }
        let stripPrefix = !names.isEmpty && names.allSatisfy { $0.hasPrefix("module.") }
        if stripPrefix { notes.append("removed the 'module.' prefix DataParallel adds to every key") }
        for entry in dict.entries {
            guard case .string(var name) = entry.key, case .opaque(let object) = entry.value,
                  let tensor = object as? TensorReference else { continue }
            if stripPrefix { name.removeFirst("module.".count) }
            let storage = tensor.storage
            if storages[storage.key] == nil {
                // The storage holds what its reference says (checked against overflow when it was read).
                guard let bytes = try contents("\(prefix)data/\(storage.key)", limit: storage.count * storage.type.byteCount) else {
                    throw ModelFileError(.truncated, path: path, key: name, "storage '\(storage.key)' is missing from the archive")
                }
                storages[storage.key] = bytes
            }
            let values = try tensor.values(in: storages[storage.key]!, path: path, name: name)
            stateDict[name] = .init(name: name, tensor: Tensor(shape: tensor.shape, scalars: values),
                                    isInteger: storage.type.isInteger)
        }
        return (stateDict, notes)
    }

    /// The largest data.pkl read: a state dict's pickle is a few kilobytes per tensor.
    static let maximumPickleBytes = 64 << 20
    /// The largest tensor storage read, in bytes (4 GiB: far above any ResNet9).
    static let maximumStorageBytes = 4 << 30

    private static func isTensorDict(_ dict: Unpickler.DictBox) -> Bool {
        !dict.entries.isEmpty && dict.entries.allSatisfy { entry in
            if case .string = entry.key, case .opaque(let object) = entry.value, object is TensorReference { true } else { false }
        }
    }

    private static func kind(of value: Unpickler.Value) -> String {
        switch value {
        case .opaque(let object) where object is TensorReference: "single tensor"
        case .list: "list"
        case .tuple: "tuple"
        case .global(let module, let name): "\(module).\(name)"
        default: "plain value"
        }
    }

    private static func describe(_ error: Error) -> String {
        (error as? LocalizedError)?.errorDescription ?? String(describing: error)
    }

    // MARK: the objects torch.save pickles

    /// `('storage', torch.FloatStorage, '<key>', 'cpu', numel)`: the storage a tensor views.
    final class StorageReference {
        let type: ElementType
        let key: String
        let count: Int
        init(type: ElementType, key: String, count: Int) { self.type = type; self.key = key; self.count = count }
    }

    /// `_rebuild_tensor_v2(storage, offset, size, stride, ...)`: a strided view of a storage.
    final class TensorReference {
        let storage: StorageReference
        let offset: Int
        let shape: [Int]
        let strides: [Int]
        init(storage: StorageReference, offset: Int, shape: [Int], strides: [Int]) {
            self.storage = storage; self.offset = offset; self.shape = shape; self.strides = strides
        }

        /// Gathers the viewed elements in row-major order, checking every index against the storage.
        func values(in bytes: Data, path: String, name: String) throws(ModelFileError) -> [Float] {
            let size = storage.type.byteCount
            guard bytes.count >= storage.count * size else {
                throw ModelFileError(.truncated, path: path, key: name,
                                     "storage '\(storage.key)' has \(bytes.count) bytes, \(storage.count * size) expected")
            }
            // Shapes and strides come from the file: every product and sum is checked, so a crafted
            // view is an error, never an overflow trap.
            guard let count = Tensor.checkedElementCount(of: shape) else {
                throw ModelFileError(.offsetsOutOfRange, path: path, key: name, "shape \(shape) has more elements than can be counted")
            }
            guard count > 0 else { return [] }
            var last: Int? = offset
            for (extent, stride) in zip(shape, strides) {
                last = last.flatMap { sum in
                    let (step, overflow) = (extent - 1).multipliedReportingOverflow(by: stride)
                    return overflow ? nil : sum.addingReportingOverflow(step).overflow ? nil : sum + step
                }
            }
            guard let last, offset >= 0, strides.allSatisfy({ $0 >= 0 }), last < storage.count else {
                throw ModelFileError(.offsetsOutOfRange, path: path, key: name,
                                     "view (offset \(offset), shape \(shape), strides \(strides)) reaches past its storage of \(storage.count) elements")
            }
            let all = bytes.withUnsafeBytes { storage.type.decode(UnsafeRawBufferPointer(rebasing: $0[0..<(last + 1) * size]), count: last + 1) }
            var contiguous = true, expected = 1
            for (extent, stride) in zip(shape, strides).reversed() where extent > 1 {
                if stride != expected { contiguous = false }
                expected *= extent
            }
            if contiguous { return Array(all[offset..<offset + count]) }
            var result = [Float](repeating: 0, count: count)
            var index = [Int](repeating: 0, count: shape.count)
            for i in 0..<count {
                result[i] = all[offset + zip(index, strides).reduce(0) { $0 + $1.0 * $1.1 }]
                var d = shape.count - 1
                while d >= 0 {
                    index[d] += 1
                    if index[d] < shape[d] { break }
                    index[d] = 0
                    d -= 1
                }
            }
            return result
        }
    }

    struct Refusal: Error, CustomStringConvertible { let description: String }

    private static let storageTypes: [String: ElementType] = [
        "FloatStorage": .float32, "DoubleStorage": .float64, "HalfStorage": .float16,
        "BFloat16Storage": .bfloat16, "LongStorage": .int64,
    ]

    private static func storageReference(_ id: Unpickler.Value) throws -> Unpickler.Value {
        guard case .tuple(let parts) = id, parts.count == 5, case .string("storage") = parts[0],
              case .global(_, let typeName) = parts[1], case .string(let key) = parts[2], case .int(let count) = parts[4],
              count >= 0 else {
            throw Refusal(description: "unexpected persistent id (not a tensor storage)")
        }
        guard let type = storageTypes[typeName] else {
            throw Refusal(description: "storage type \(typeName) is not supported (float32/64, float16, bfloat16 and int64 are)")
        }
        guard count <= maximumStorageBytes / type.byteCount else {
            throw Refusal(description: "storage '\(key)' of \(count) elements is larger than \(maximumStorageBytes) bytes")
        }
        return .opaque(StorageReference(type: type, key: key, count: count))
    }

    private static func rebuild(_ callable: Unpickler.Value, _ arguments: [Unpickler.Value]) throws -> Unpickler.Value {
        guard case .global(let module, let name) = callable else { throw Refusal(description: "call of a non-global") }
        func integers(_ value: Unpickler.Value) throws -> [Int] {
            guard case .tuple(let items) = value else { throw Refusal(description: "tensor size/stride is not a tuple") }
            return try items.map { item in
                guard case .int(let number) = item, number >= 0 else { throw Refusal(description: "bad tensor size/stride") }
                return number
            }
        }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"):
            return .dict(Unpickler.DictBox())
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard arguments.count >= 4, case .opaque(let object) = arguments[0], let storage = object as? StorageReference,
                  case .int(let offset) = arguments[1] else {
                throw Refusal(description: "unexpected arguments to \(name)")
            }
            let shape = try integers(arguments[2]), strides = try integers(arguments[3])
            guard shape.count == strides.count else { throw Refusal(description: "tensor size and stride differ in rank") }
            return .opaque(TensorReference(storage: storage, offset: offset, shape: shape, strides: strides))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let tensor = arguments.first else { throw Refusal(description: "\(name) without a tensor") }
            return tensor
        case ("torch._utils", "_rebuild_from_type_v2"):
            guard arguments.count >= 3, case .tuple(let inner) = arguments[2] else {
                throw Refusal(description: "unexpected arguments to \(name)")
            }
            return try rebuild(arguments[0], inner)
        default:
            throw Refusal(description: "\(module).\(name) is not part of a state dict (was a whole model saved? save model.state_dict() instead)")
        }
    }
}
