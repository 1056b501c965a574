import Foundation

/// The safetensors format: an 8-byte little-endian header length, a JSON header mapping each tensor
/// name to `{dtype, shape, data_offsets}` (offsets relative to the end of the header) plus an optional
/// `__metadata__` object of strings, then the raw little-endian tensor bytes.
public enum SafeTensors {
    /// Headers above this are refused before any allocation (the reference implementation's limit).
    static let maxHeaderLength = 100_000_000

    /// Parses a safetensors file's bytes, checking every offset, size and dtype.
    /// - Parameter path: the file's name, used in error messages only.
    /// - Returns: the tensors in header order (sorted by data offset) and the metadata, if any.
    public static func decode(_ data: Data, path: String) throws(ModelFileError) -> (StateDict, [String: String]?) {
        guard data.count >= 8 else {
            throw ModelFileError(.truncated, path: path, "\(data.count) bytes is too short for a safetensors file (8-byte header length missing)")
        }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8) else {
            throw ModelFileError(.headerTooLarge, path: path, "header says \(headerLength) bytes but the file has only \(data.count - 8) after the length field (truncated, or not a safetensors file)")
        }
        guard headerLength <= maxHeaderLength else {
            throw ModelFileError(.headerTooLarge, path: path, "header of \(headerLength) bytes exceeds the \(maxHeaderLength)-byte limit")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerObject: Any
        do {
            headerObject = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<headerEnd))
        } catch {
            throw ModelFileError(.invalidHeader, path: path, "header is not valid JSON (not a safetensors file?)")
        }
        guard let header = headerObject as? [String: Any] else {
            throw ModelFileError(.invalidHeader, path: path, "header is not a JSON object")
        }

        var metadata: [String: String]?
        if let raw = header["__metadata__"] {
            guard let object = raw as? [String: Any] else {
                throw ModelFileError(.invalidMetadata, path: path, key: "__metadata__", "must be an object of strings")
            }
            var strings: [String: String] = [:]
            for (key, value) in object {
                guard let string = value as? String else {
                    throw ModelFileError(.invalidMetadata, path: path, key: key, "metadata values must be strings")
                }
                strings[key] = string
            }
            metadata = strings
        }

        let dataLength = data.count - headerEnd
        var spans: [(name: String, type: ElementType, shape: [Int], range: Range<Int>)] = []
        for (name, raw) in header where name != "__metadata__" {
            guard let info = raw as? [String: Any] else {
                throw ModelFileError(.invalidHeader, path: path, key: name, "tensor entry is not an object")
            }
            guard let dtypeName = info["dtype"] as? String else {
                throw ModelFileError(.invalidHeader, path: path, key: name, "dtype missing")
            }
            guard let type = ElementType(rawValue: dtypeName) else {
                throw ModelFileError(.unsupportedDType, path: path, key: name,
                                     "dtype \(dtypeName) is not supported (expected F32, F16, BF16 or F64; I64 for counters)")
            }
            guard let shape = integers(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw ModelFileError(.invalidHeader, path: path, key: name, "shape is not a list of non-negative integers")
            }
            guard let offsets = integers(info["data_offsets"]), offsets.count == 2 else {
                throw ModelFileError(.invalidHeader, path: path, key: name, "data_offsets is not a pair of integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataLength else {
                throw ModelFileError(.offsetsOutOfRange, path: path, key: name,
                                     "data_offsets [\(begin), \(end)] fall outside the \(dataLength) data bytes (truncated file?)")
            }
            let needed = Tensor.checkedElementCount(of: shape).flatMap { count in
                let (bytes, overflow) = count.multipliedReportingOverflow(by: type.byteCount)
                return overflow ? nil : bytes
            }
            guard let needed, end - begin == needed else {
                throw ModelFileError(.offsetsOutOfRange, path: path, key: name,
                                     "holds \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(needed.map(String.init) ?? "more than fits in memory")")
            }
            spans.append((name, type, shape, begin..<end))
        }
        spans.sort { ($0.range.lowerBound, $0.name) < ($1.range.lowerBound, $1.name) }
        for (previous, next) in zip(spans, spans.dropFirst()) where previous.range.overlaps(next.range) {
            throw ModelFileError(.offsetsOutOfRange, path: path, key: next.name, "data overlaps that of '\(previous.name)'")
        }

        var stateDict = StateDict()
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            for span in spans {
                let slice = UnsafeRawBufferPointer(rebasing: bytes[(headerEnd + span.range.lowerBound)..<(headerEnd + span.range.upperBound)])
                let values = span.type.decode(slice, count: Tensor.elementCount(of: span.shape))
                stateDict[span.name] = .init(name: span.name, tensor: Tensor(shape: span.shape, scalars: values),
                                             isInteger: span.type.isInteger)
            }
        }
        return (stateDict, metadata)
    }

    /// Serializes tensors (Float32, or int64 for integer entries) and metadata, in the state dict's order.
    /// The header is padded with spaces to a multiple of 8 bytes so the tensor data is aligned.
    public static func encode(_ stateDict: StateDict, metadata: [String: String]?) -> Data {
        var header = "{"
        var fields: [String] = []
        if let metadata, !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }
            fields.append("\"__metadata__\":{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for entry in stateDict.entries {
            let type: ElementType = entry.isInteger ? .int64 : .float32
            let end = offset + entry.tensor.count * type.byteCount
            let shape = entry.tensor.shape.map(String.init).joined(separator: ",")
            fields.append("\(jsonString(entry.name)):{\"dtype\":\"\(type.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += fields.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }

        var data = Data(capacity: 8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for entry in stateDict.entries {
            if entry.isInteger {
                for value in entry.tensor.scalars {
                    withUnsafeBytes(of: Int64(value).littleEndian) { data.append(contentsOf: $0) }
                }
            } else {
                let little = entry.tensor.scalars.map { $0.bitPattern.littleEndian }
                little.withUnsafeBytes { data.append(contentsOf: $0) }
            }
        }
        return data
    }

    private static func integers(_ value: Any?) -> [Int]? {
        guard let array = value as? [Any] else { return nil }
        var result: [Int] = []
        for element in array {
            guard let number = element as? Int else { return nil }
            result.append(number)
        }
        return result
    }
}

/// A JSON string literal for `text`, escaped per RFC 8259.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
