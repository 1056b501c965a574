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

    final class ListBox { var items: [Value] = [] }
    final class DictBox {
        var entries: [(key: Value, value: Value)] = []
        func set(_ key: Value, _ value: Value) { entries.append((key, value)) }
    }

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
        var stack: [Value] = []
        var marks: [Int] = []
        var memo: [Int: Value] = [:]
        var opcodeOffset = 0

        func fail(_ detail: String) -> Failure { Failure(offset: opcodeOffset, detail: detail) }
        func pop() throws -> Value {
            guard let value = stack.popLast() else { throw fail("stack underflow") }
            return value
        }
        func popToMark() throws -> [Value] {
            guard let mark = marks.popLast(), mark <= stack.count else { throw fail("MARK missing") }
            let items = Array(stack[mark...])
            stack.removeSubrange(mark...)
            return items
        }
        func top() throws -> Value {
            guard let value = stack.last else { throw fail("stack underflow") }
            return value
        }
        func string(_ bytes: [UInt8]) throws -> Value {
            guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("invalid UTF-8 in string") }
            return .string(text)
        }
        func memoize(_ key: Int) throws { memo[key] = try top() }
        func recall(_ key: Int) throws {
            guard let value = memo[key] else { throw fail("memo key \(key) is not defined") }
            stack.append(value)
        }
        func setItems(_ items: [Value]) throws {
            guard items.count % 2 == 0 else { throw fail("odd number of items for SETITEMS") }
            guard case .dict(let dict) = try top() else { throw fail("SETITEM on something that is not a dict") }
            for i in stride(from: 0, to: items.count, by: 2) { dict.set(items[i], items[i + 1]) }
        }
        func append(_ items: [Value]) throws {
            guard case .list(let list) = try top() else { throw fail("APPEND on something that is not a list") }
            list.items.append(contentsOf: items)
        }

        while true {
            opcodeOffset = reader.position
            let opcode = try reader.byte()
            switch opcode {
            case 0x80: _ = try reader.byte()                                   // PROTO
            case 0x95: _ = try reader.bytes(8)                                 // FRAME
            case 0x2E: return try pop()                                        // STOP
            case 0x28: marks.append(stack.count)                               // MARK
            case 0x29: stack.append(.tuple([]))                                // EMPTY_TUPLE
            case 0x5D: stack.append(.list(ListBox()))                          // EMPTY_LIST
            case 0x7D: stack.append(.dict(DictBox()))                          // EMPTY_DICT
            case 0x4E: stack.append(.none)                                     // NONE
            case 0x88: stack.append(.bool(true))                               // NEWTRUE
            case 0x89: stack.append(.bool(false))                              // NEWFALSE
            case 0x4B: stack.append(.int(Int(try reader.byte())))              // BININT1
            case 0x4D: stack.append(.int(Int(try reader.littleEndian(2))))     // BININT2
            case 0x4A: stack.append(.int(Int(Int32(truncatingIfNeeded: try reader.littleEndian(4)))))  // BININT
            case 0x8A:                                                         // LONG1
                let length = Int(try reader.byte())
                guard length <= 8 else { throw fail("integer of \(length) bytes is too large") }
                let raw = try reader.bytes(length)
                var value: UInt64 = 0
                for (i, byte) in raw.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
                if length > 0, length < 8, raw[length - 1] & 0x80 != 0 { value |= ~0 << (8 * UInt64(length)) }
                stack.append(.int(Int(Int64(bitPattern: value))))
            case 0x47:                                                         // BINFLOAT (big-endian)
                let raw = try reader.bytes(8)
                stack.append(.float(Double(bitPattern: raw.reduce(0) { $0 << 8 | UInt64($1) })))
            case 0x58: stack.append(try string(reader.bytes(Int(reader.littleEndian(4)))))     // BINUNICODE
            case 0x8C: stack.append(try string(reader.bytes(Int(reader.byte()))))              // SHORT_BINUNICODE
            case 0x8D: stack.append(try string(reader.bytes(Int(reader.littleEndian(8)))))     // BINUNICODE8
            case 0x54: stack.append(try string(reader.bytes(Int(reader.littleEndian(4)))))     // BINSTRING
            case 0x55: stack.append(try string(reader.bytes(Int(reader.byte()))))              // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(try reader.bytes(Int(reader.littleEndian(4)))))     // BINBYTES
            case 0x43: stack.append(.bytes(try reader.bytes(Int(reader.byte()))))              // SHORT_BINBYTES
            case 0x74: stack.append(.tuple(try popToMark()))                   // TUPLE
            case 0x85: stack.append(.tuple([try pop()]))                       // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); stack.append(.tuple([a, b]))          // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); stack.append(.tuple([a, b, c]))  // TUPLE3
            case 0x63:                                                         // GLOBAL
                let module = try reader.line(), name = try reader.line()
                stack.append(.global(module: module, name: name))
            case 0x93:                                                         // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL needs two strings")
                }
                stack.append(.global(module: module, name: name))
            case 0x71: try memoize(Int(reader.byte()))                         // BINPUT
            case 0x72: try memoize(Int(reader.littleEndian(4)))                // LONG_BINPUT
            case 0x94: try memoize(memo.count)                                 // MEMOIZE
            case 0x68: try recall(Int(reader.byte()))                          // BINGET
            case 0x6A: try recall(Int(reader.littleEndian(4)))                 // LONG_BINGET
            case 0x30: _ = try pop()                                           // POP
            case 0x31: _ = try popToMark()                                     // POP_MARK
            case 0x32: stack.append(try top())                                 // DUP
            case 0x73: let value = try pop(), key = try pop(); try setItems([key, value])      // SETITEM
            case 0x75: try setItems(try popToMark())                           // SETITEMS
            case 0x61: try append([try pop()])                                 // APPEND
            case 0x65: try append(try popToMark())                             // APPENDS
            case 0x52, 0x81:                                                   // REDUCE, NEWOBJ
                guard case .tuple(let arguments) = try pop() else { throw fail("REDUCE arguments are not a tuple") }
                let callable = try pop()
                do { stack.append(try reduce(callable, arguments)) } catch let error as Failure { throw error } catch {
                    throw fail("\(error)")
                }
            case 0x62: _ = try pop()                                           // BUILD: object state (e.g. an
                                                                               // OrderedDict's _metadata) is not needed
            case 0x51:                                                         // BINPERSID
                let id = try pop()
                do { stack.append(try persistentLoad(id)) } catch let error as Failure { throw error } catch {
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
