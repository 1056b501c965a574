/// A JSON value whose objects keep their key order, for output other tools read (one object per
/// line in JSON Lines). Non-finite numbers become `null`, since JSON has no NaN or infinity.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case integer(Int)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// A Float as its shortest round-tripping decimal (0.1 stays 0.1, not 0.10000000149).
    public static func float(_ value: Float) -> JSONValue { value.isFinite ? .number(Double("\(value)")!) : .null }

    /// Compact serialization on one line.
    public var serialized: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .integer(let value): return String(value)
        case .number(let value):
            guard value.isFinite else { return "null" }
            if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
            return "\(value)"
        case .string(let value): return jsonString(value)
        case .array(let items): return "[" + items.map(\.serialized).joined(separator: ",") + "]"
        case .object(let fields):
            return "{" + fields.map { "\(jsonString($0.0)):\($0.1.serialized)" }.joined(separator: ",") + "}"
        }
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.serialized == rhs.serialized }
}
