import CDNNL

// The thin Swift side of oneDNN's C API (Debian's libdnnl 2.6): each handle is owned by one Swift object
// that destroys it, and every failing call becomes a `OneDNNError` naming the call.

/// A oneDNN call that failed.
public struct OneDNNError: Error, CustomStringConvertible, Sendable {
    public let call: String
    let status: Int

    public var description: String { "oneDNN: \(call) failed (status \(status))" }
}

@inline(__always)
private func check(_ status: dnnl_status_t, _ call: @autoclosure () -> String) throws(OneDNNError) {
    guard status == dnnl_success else { throw OneDNNError(call: call(), status: Int(status.rawValue)) }
}

/// oneDNN's CPU engine and an in-order stream on it.
final class OneDNNEngine: @unchecked Sendable {
    let engine: dnnl_engine_t
    let stream: dnnl_stream_t
    /// The engine whose oneDNN engine this one shares, kept alive as long as this one; nil when it owns it.
    private let sharedFrom: OneDNNEngine?

    init() throws(OneDNNError) {
        var engine: dnnl_engine_t?
        try check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        var stream: dnnl_stream_t?
        do throws(OneDNNError) {
            try check(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue), "creating a stream")
        } catch {
            dnnl_engine_destroy(engine)
            throw error
        }
        self.engine = engine!
        self.stream = stream!
        sharedFrom = nil
    }

    /// A second stream on `other`'s engine, for passes on another thread at the same time: memory made on
    /// either serves primitives of both.
    init(streamOn other: OneDNNEngine) throws(OneDNNError) {
        var stream: dnnl_stream_t?
        try check(dnnl_stream_create(&stream, other.engine, dnnl_stream_default_flags.rawValue), "creating a stream")
        engine = other.engine
        self.stream = stream!
        sharedFrom = other
    }

    deinit {
        dnnl_stream_destroy(stream)
        if sharedFrom == nil { dnnl_engine_destroy(engine) }
    }
}

/// A tensor's shape, element type and layout (a oneDNN memory descriptor).
struct TensorLayout {
    var descriptor: dnnl_memory_desc_t

    /// A plain or to-be-chosen (`dnnl_format_tag_any`) layout of `dimensions`.
    init(_ dimensions: [Int], _ type: dnnl_data_type_t, _ tag: dnnl_format_tag_t) throws(OneDNNError) {
        var descriptor = dnnl_memory_desc_t()
        let dims = dimensions.map(Int64.init)
        try check(dnnl_memory_desc_init_by_tag(&descriptor, Int32(dims.count), dims, type, tag), "describing a \(dimensions) tensor")
        self.descriptor = descriptor
    }

    init(_ descriptor: dnnl_memory_desc_t) { self.descriptor = descriptor }

    var byteCount: Int { withUnsafePointer(to: descriptor) { dnnl_memory_desc_get_size($0) } }
    var type: dnnl_data_type_t { descriptor.data_type }

    func matches(_ other: TensorLayout) -> Bool {
        withUnsafePointer(to: descriptor) { a in withUnsafePointer(to: other.descriptor) { b in dnnl_memory_desc_equal(a, b) != 0 } }
    }
}

/// A tensor in oneDNN's layout, on memory this object allocates and frees, or on part of another tensor's.
final class OneDNNTensor {
    let layout: TensorLayout
    let handle: dnnl_memory_t
    let data: UnsafeMutableRawPointer
    /// The tensor whose memory this one is a view of, kept alive with it; nil when it owns its memory.
    private let owner: OneDNNTensor?

    init(_ layout: TensorLayout, engine: OneDNNEngine) throws(OneDNNError) {
        self.layout = layout
        let count = max(64, layout.byteCount)
        let data = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 64)
        data.initializeMemory(as: UInt8.self, repeating: 0, count: count)
        self.data = data
        owner = nil
        do throws(OneDNNError) {
            handle = try Self.memory(layout, on: data, engine: engine)
        } catch {
            data.deallocate()
            throw error
        }
    }

    /// A view of `owner`'s memory from `byteOffset` on, as a tensor of `layout`: e.g. some rows of an
    /// `nhwc` map, which are one contiguous run of it.
    init(viewing owner: OneDNNTensor, at byteOffset: Int, as layout: TensorLayout, engine: OneDNNEngine) throws(OneDNNError) {
        precondition(byteOffset >= 0 && byteOffset + layout.byteCount <= owner.layout.byteCount, "a view inside its tensor")
        self.layout = layout
        self.owner = owner
        data = owner.data + byteOffset
        handle = try Self.memory(layout, on: data, engine: engine)
    }

    private static func memory(_ layout: TensorLayout, on data: UnsafeMutableRawPointer, engine: OneDNNEngine) throws(OneDNNError) -> dnnl_memory_t {
        var handle: dnnl_memory_t?
        try check(withUnsafePointer(to: layout.descriptor) { dnnl_memory_create(&handle, $0, engine.engine, data) }, "creating a tensor")
        return handle!
    }

    deinit {
        dnnl_memory_destroy(handle)
        if owner == nil { data.deallocate() }
    }
}

/// What a primitive does to its result besides computing it: per-channel output scales, a ReLU, and a
/// sum with what the destination held before (a residual connection computed in place).
struct PrimitiveAttributes {
    /// One scale per channel (mask: the channel dimension), or one for the whole tensor.
    var outputScales: [Float] = []
    var scalesPerChannelOf: Int? = nil
    var relu = false
    /// dst = result + sumScale * dst-before.
    var sumScale: Float? = nil

    func make() throws(OneDNNError) -> dnnl_primitive_attr_t {
        var attr: dnnl_primitive_attr_t?
        try check(dnnl_primitive_attr_create(&attr), "creating primitive attributes")
        do throws(OneDNNError) {
            if !outputScales.isEmpty {
                let mask: Int32 = scalesPerChannelOf.map { 1 << Int32($0) } ?? 0
                try check(dnnl_primitive_attr_set_output_scales(attr, Int64(outputScales.count), mask, outputScales), "setting output scales")
            }
            if relu || sumScale != nil {
                var ops: dnnl_post_ops_t?
                try check(dnnl_post_ops_create(&ops), "creating post-ops")
                defer { dnnl_post_ops_destroy(ops) }
                if relu { try check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "adding a ReLU") }
                if let sumScale { try check(dnnl_post_ops_append_sum(ops, sumScale), "adding a sum") }
                try check(dnnl_primitive_attr_set_post_ops(attr, ops), "setting post-ops")
            }
        } catch {
            dnnl_primitive_attr_destroy(attr)
            throw error
        }
        return attr!
    }
}

/// A primitive descriptor: what oneDNN chose for an operation (its layouts and implementation).
final class PrimitiveChoice {
    let handle: dnnl_primitive_desc_t

    /// From an operation descriptor (`dnnl_convolution_desc_t`, `dnnl_pooling_desc_t`, ...).
    init<Operation>(_ operation: Operation, attributes: PrimitiveAttributes = .init(), engine: OneDNNEngine, what: String) throws(OneDNNError) {
        let attr = try attributes.make()
        defer { dnnl_primitive_attr_destroy(attr) }
        var handle: dnnl_primitive_desc_t?
        let status = withUnsafePointer(to: operation) { dnnl_primitive_desc_create(&handle, UnsafeRawPointer($0), attr, engine.engine, nil) }
        try check(status, "choosing an implementation for \(what)")
        self.handle = handle!
    }

    /// A reorder from one layout (and type) to another, scaling by `attributes.outputScales`.
    init(reorderFrom source: TensorLayout, to destination: TensorLayout, attributes: PrimitiveAttributes = .init(), engine: OneDNNEngine) throws(OneDNNError) {
        let attr = try attributes.make()
        defer { dnnl_primitive_attr_destroy(attr) }
        var handle: dnnl_primitive_desc_t?
        let status = withUnsafePointer(to: source.descriptor) { s in
            withUnsafePointer(to: destination.descriptor) { d in dnnl_reorder_primitive_desc_create(&handle, s, engine.engine, d, engine.engine, attr) }
        }
        try check(status, "choosing a reorder")
        self.handle = handle!
    }

    deinit { dnnl_primitive_desc_destroy(handle) }

    func layout(_ query: dnnl_query_t) -> TensorLayout { TensorLayout(dnnl_primitive_desc_query_md(handle, query, 0).pointee) }
    var source: TensorLayout { layout(dnnl_query_src_md) }
    var weights: TensorLayout { layout(dnnl_query_weights_md) }
    var destination: TensorLayout { layout(dnnl_query_dst_md) }
}

/// A primitive bound to its tensors, run as one step of a pass. It keeps its tensors alive.
final class OneDNNStep {
    private let primitive: dnnl_primitive_t
    private let tensors: [OneDNNTensor]
    private let arguments: [dnnl_exec_arg_t]

    init(_ choice: PrimitiveChoice, _ arguments: [(Int32, OneDNNTensor)]) throws(OneDNNError) {
        var primitive: dnnl_primitive_t?
        try check(dnnl_primitive_create(&primitive, choice.handle), "creating a primitive")
        self.primitive = primitive!
        tensors = arguments.map(\.1)
        self.arguments = arguments.map { dnnl_exec_arg_t(arg: $0.0, memory: $0.1.handle) }
    }

    deinit { dnnl_primitive_destroy(primitive) }

    func run(on engine: OneDNNEngine) throws(OneDNNError) {
        try check(dnnl_primitive_execute(primitive, engine.stream, Int32(arguments.count), arguments), "running a primitive")
    }
}

extension OneDNNEngine {
    /// Waits for every step run so far.
    func wait() throws(OneDNNError) { try check(dnnl_stream_wait(stream), "waiting for the stream") }

    /// The threads oneDNN's next steps on the calling thread use (an OpenMP setting of that thread).
    func useThreads(_ count: Int) { omp_set_num_threads(Int32(max(1, count))) }
}

/// Argument slots of `dnnl_primitive_execute`.
enum OneDNNArgument {
    static let source = Int32(DNNL_ARG_SRC)
    static let destination = Int32(DNNL_ARG_DST)
    static let weights = Int32(DNNL_ARG_WEIGHTS)
    static let bias = Int32(DNNL_ARG_BIAS)
    static let from = Int32(DNNL_ARG_FROM)
    static let to = Int32(DNNL_ARG_TO)
}
