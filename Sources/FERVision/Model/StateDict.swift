/// Named tensors in PyTorch `state_dict` order, as read from or written to a model file.
public struct StateDict: Sendable, Equatable {
    /// One named tensor. `isInteger` marks counters such as BatchNorm's `num_batches_tracked`,
    /// which PyTorch stores as int64 and which are written back that way.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var tensor: Tensor
        public var isInteger: Bool

        public init(name: String, tensor: Tensor, isInteger: Bool = false) {
            self.name = name
            self.tensor = tensor
            self.isInteger = isInteger
        }
    }

    /// The entries, in file order.
    public private(set) var entries: [Entry]
    private var indexByName: [String: Int]

    /// Creates a state dict; a later entry with the same name replaces an earlier one.
    public init(_ entries: [Entry] = []) {
        self.entries = []
        self.indexByName = [:]
        for entry in entries { self[entry.name] = entry }
    }

    /// The names, in file order.
    public var names: [String] { entries.map(\.name) }

    /// The entry with this name, or nil. Setting appends a new name or replaces in place.
    public subscript(name: String) -> Entry? {
        get { indexByName[name].map { entries[$0] } }
        set {
            if let index = indexByName[name] {
                if let newValue { entries[index] = newValue } else {
                    entries.remove(at: index)
                    indexByName = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
                }
            } else if let newValue {
                indexByName[name] = entries.count
                entries.append(newValue)
            }
        }
    }

    /// The tensor with this name, or nil.
    public func tensor(_ name: String) -> Tensor? { self[name]?.tensor }

    public static func == (lhs: StateDict, rhs: StateDict) -> Bool { lhs.entries == rhs.entries }
}
