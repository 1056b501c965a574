import Foundation

/// Element types a model file may store, named as safetensors names them.
public enum ElementType: String, Sendable, CaseIterable {
    case float32 = "F32", float64 = "F64", float16 = "F16", bfloat16 = "BF16", int64 = "I64"

    /// Bytes per element.
    public var byteCount: Int {
        switch self {
        case .float32: 4
        case .float64, .int64: 8
        case .float16, .bfloat16: 2
        }
    }

    /// Whether the stored values are integers (only counters such as `num_batches_tracked`).
    public var isInteger: Bool { self == .int64 }

    /// Decodes `count` little-endian elements from `bytes` into Float32
    /// (int64 counters are exact up to 2^24, far beyond any batch count we train).
    func decode(_ bytes: UnsafeRawBufferPointer, count: Int) -> [Float] {
        precondition(bytes.count >= count * byteCount)
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch self {
            case .float32:
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .float64:
                for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            case .float16:
                for i in 0..<count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            case .bfloat16:
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
            case .int64:
                for i in 0..<count { out[i] = Float(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
            }
            initialized = count
        }
    }
}
