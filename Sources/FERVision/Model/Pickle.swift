import Foundation

/// A restricted unpickler: the opcode subset `torch.save` emits for a state dict (protocol 2, plus the
/// protocol 4 framing opcodes), building plain values. It never imports or runs anything: globals come
/// back as names, and `REDUCE`/`NEWOBJ`/persistent ids are handed to the caller, which accepts only the
/// few callables it knows (so a pickle cannot execute code, unlike Python's `pickle.load`).
struct Unpickler {
    /// What the unpickler builds. Lists and dicts are references because pickles mutate them after
    /// they were memoized (SETITEMS on a dict created by REDUCE).
    indirect enum Value {
        case none, bool(Bool), int(Int), float(Double), string(String), bytes([UInt8])
        case tuple([Value]), list(ListBox), dict(DictBox)
        case global(module: String, name: String)
        /// Something the caller built (a storage or a tensor, for PyTorch).
        case opaque(AnyObject)
    }

    /// Lists and dicts remember how deep the values inside them nest (see `maximumDepth`).
    final class ListBox {
        var items: [Value] = []
        var depth = 1
    }
    final class DictBox {
        var entries: [(key: Value, value: Value)] = []
        var depth = 1
        func set(_ key: Value, _ value: Value) { entries.append((key, value)) }
    }

    /// How deep values may nest. A state dict's pickle nests a handful of levels; a crafted one could nest
    /// a million tuples, whose release alone would overflow the stack.
    static let maximumDepth = 100

    /// Why a pickle was refused; `offset` is the byte position of the opcode.
    struct Failure: Error {
        let offset: Int
        let detail: String
    }

    /// Builds the object a `REDUCE` or `NEWOBJ` describes: callable (a `.global`) and its argument tuple.
    var reduce: (_ callable: Value, _ arguments: [Value]) throws -> Value
    /// Resolves a `BINPERSID` id (PyTorch's storage reference tuple).
    var persistentLoad: (_ id: Value) throws -> Value

    func load(_ bytes: [UInt8]) throws -> Value {
        var reader = ByteReader(bytes: bytes)
        // Each stack entry with the depth of its nesting (1 for a leaf value).
        var stack: [(value: Value, depth: Int)] = []
        var marks: [Int] = []
        var memo: [Int: (value: Value, depth: Int)] = [:]
        var opcodeOffset = 0

        func fail(_ detail: String) -> Failure { Failure(offset: opcodeOffset, detail: detail) }
        func push(_ value: Value, depth: Int = 1) throws {
            guard depth <= Self.maximumDepth else { throw fail("values nest deeper than \(Self.maximumDepth) levels") }
            stack.append((value, depth))
        }
        func pop() throws -> (value: Value, depth: Int) {
            guard let entry = stack.popLast() else { throw fail("stack underflow") }
            return entry
        }
        func popToMark() throws -> [(value: Value, depth: Int)] {
            guard let mark = marks.popLast(), mark <= stack.count else { throw fail("MARK missing") }
            let items = Array(stack[mark...])
            stack.removeSubrange(mark...)
            return items
        }
        func top() throws -> (value: Value, depth: Int) {
            guard let entry = stack.last else { throw fail("stack underflow") }
            return entry
        }
        func tuple(_ items: [(value: Value, depth: Int)]) throws {
            try push(.tuple(items.map(\.value)), depth: 1 + (items.map(\.depth).max() ?? 0))
        }
        func string(_ bytes: [UInt8]) throws -> Value {
            guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
            return .string(text)
        }
        func memoize(_ key: Int) throws { memo[key] = try top() }
        func recall(_ key: Int) throws {
            guard let entry = memo[key] else { throw fail("memo key \(key) is not defined") }
            try push(entry.value, depth: entry.depth)
        }
        /// Adds to the container on top of the stack; its depth grows with what it holds.
        func grow(_ container: Int, by items: [(value: Value, depth: Int)]) throws {
            let depth = max(container, 1 + (items.map(\.depth).max() ?? 0))
            guard depth <= Self.maximumDepth else { throw fail("values nest deeper than \(Self.maximumDepth) levels") }
            stack[stack.count - 1].depth = depth
        }
        func setItems(_ items: [(value: Value, depth: Int)]) throws {
            guard items.count % 2 == 0 else { throw fail("odd number of items for SETITEMS") }
            guard case .dict(let dict) = try top().value else { throw fail("SETITEM on something that is not a dict") }
            try grow(dict.depth, by: items)
            dict.depth = stack[stack.count - 1].depth
            for i in stride(from: 0, to: items.count, by: 2) { dict.set(items[i].value, items[i + 1].value) }
        }
        func append(_ items: [(value: Value, depth: Int)]) throws {
            guard case .list(let list) = try top().value else { throw fail("APPEND on something that is not a list") }
            try grow(list.depth, by: items)
            list.depth = stack[stack.count - 1].depth
            list.items.append(contentsOf: items.map(\.value))
        }
        /// A length field: at most what is left of the data (checked before any conversion to Int).
        func length(_ raw: UInt64) throws -> Int {
            guard raw <= UInt64(bytes.count - reader.position) else { throw fail("a length of \(raw) bytes runs past the end of the data") }
            return Int(raw)
        }

        while true {
            opcodeOffset = reader.position
            let opcode = try reader.byte()
            switch opcode {
            case 0x80: _ = try reader.byte()                                   // PROTO
            case 0x95: _ = try reader.bytes(8)                                 // FRAME
            case 0x2E: return try pop().value                                  // STOP
            case 0x28: marks.append(stack.count)                               // MARK
            case 0x29: try push(.tuple([]))                                    // EMPTY_TUPLE
            case 0x5D: try push(.list(ListBox()))                              // EMPTY_LIST
            case 0x7D: try push(.dict(DictBox()))                              // EMPTY_DICT
            case 0x4E: try push(.none)                                         // NONE
            case 0x88: try push(.bool(true))                                   // NEWTRUE
            case 0x89: try push(.bool(false))                                  // NEWFALSE
            case 0x4B: try push(.int(Int(try reader.byte())))                  // BININT1
            case 0x4D: try push(.int(Int(try reader.littleEndian(2))))         // BININT2
            case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try reader.littleEndian(4)))))  // BININT
            case 0x8A:                                                         // LONG1
                let length = Int(try reader.byte())
                guard length <= 8 else { throw fail("integer of \(length) bytes is too large") }
                let raw = try reader.bytes(length)
                var value: UInt64 = 0
                for (i, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
                if length > 0, length < 8, raw[length - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(length)) }
                try push(.int(Int(Int64(bitPattern: value))))
            case 0x47:                                                         // BINFLOAT (big-endian)
                let raw = try reader.bytes(8)
                try push(.float(Double(bitPattern: raw.reduce(0) { $0 << 8 | UInt64($1) })))
            case 0x58: try push(try string(reader.bytes(length(reader.littleEndian(4)))))      // BINUNICODE
            case 0x8C: try push(try string(reader.bytes(Int(reader.byte()))))                  // SHORT_BINUNICODE
            case 0x8D: try push(try string(reader.bytes(length(reader.littleEndian(8)))))      // BINUNICODE8
            case 0x54: try push(try string(reader.bytes(length(reader.littleEndian(4)))))      // BINSTRING
            case 0x55: try push(try string(reader.bytes(Int(reader.byte()))))                  // SHORT_BINSTRING
            case 0x42: try push(.bytes(try reader.bytes(length(reader.littleEndian(4)))))      // BINBYTES
            case 0x43: try push(.bytes(try reader.bytes(Int(reader.byte()))))                  // SHORT_BINBYTES
            case 0x74: try tuple(try popToMark())                              // TUPLE
            case 0x85: try tuple([try pop()])                                  // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); try tuple([a, b])                     // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); try tuple([a, b, c])   // TUPLE3
            case 0x63:                                                         // GLOBAL
                let module = try reader.line(), name = try reader.line()
                try push(.global(module: module, name: name))
            case 0x93:                                                         // STACK_GLOBAL
                guard case .string(let name) = try pop().value, case .string(let module) = try pop().value else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                try push(.global(module: module, name: name))
            case 0x71: try memoize(Int(reader.byte()))                         // BINPUT
            case 0x72: try memoize(Int(reader.littleEndian(4)))                // LONG_BINPUT
            case 0x94: try memoize(memo.count)                                 // MEMOIZE
            case 0x68: try recall(Int(reader.byte()))                          // BINGET
            case 0x6A: try recall(Int(reader.littleEndian(4)))                 // LONG_BINGET
            case 0x30: _ = try pop()                                           // POP
            case 0x31: _ = try popToMark()                                     // POP_MARK
            case 0x32: let entry = try top(); try push(entry.value, depth: entry.depth)        // DUP
            case 0x73: let value = try pop(), key = try pop(); try setItems([key, value])      // SETITEM
            case 0x75: try setItems(try popToMark())                           // SETITEMS
            case 0x61: try append([try pop()])                                 // APPEND
            case 0x65: try append(try popToMark())                             // APPENDS
            case 0x52, 0x81:                                                   // REDUCE, NEWOBJ
                let (argumentValue, argumentDepth) = try pop()
                guard case .tuple(let arguments) = argumentValue else { throw fail("REDUCE arguments are not a tuple") }
                let callable = try pop().value
                do { try push(try reduce(callable, arguments), depth: argumentDepth) } catch let error as Failure { throw error } catch {
                    throw fail("\(error)")
                }
            case 0x62: _ = try pop()                                           // BUILD: object state (e.g. an
                                                                               // OrderedDict's _metadata) is not needed
            case 0x51:                                                         // BINPERSID
                let id = try pop().value
                do { try push(try persistentLoad(id)) } catch let error as Failure { throw error } catch {
                    throw fail("\(error)")
                }
            default:
                throw fail(String(format: "pickle opcode 0x%02x is not supported", opcode))
            }
        }
    }
}

/// Sequential reads over a byte array that throw, never trap, at the end of the data.
struct ByteReader {
    let bytes: [UInt8]
    private(set) var position = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    struct EndOfData: Error, CustomStringConvertible {
        let offset: Int
        var description: String { "data ends early (at byte \(offset))" }
    }

    mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw EndOfData(offset: position) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func bytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= bytes.count - position else { throw EndOfData(offset: position) }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    mutating func littleEndian(_ count: Int) throws -> UInt64 {
        try bytes(count).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }

    /// A newline-terminated ASCII line, without the newline.
    mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw EndOfData(offset: bytes.count) }
        defer { position = end + 1 }
        return String(decoding: bytes[position..<end], as: UTF8.self)
    }
}
