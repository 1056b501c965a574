/// Unaligned SIMD loads and stores of floats: the one set the inference and training kernels share.

/// Loads a whole vector from `p`, unaligned.
@inline(__always)
func load<Vector: SIMD>(_ p: UnsafePointer<Float>) -> Vector where Vector.Scalar == Float {
    UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
}

/// Stores a whole vector at `p`, unaligned.
@inline(__always)
func store<Vector: SIMD>(_ v: Vector, to p: UnsafeMutablePointer<Float>) where Vector.Scalar == Float {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
}

/// Stores the first `count` lanes of `v` at `p` (all of them in one unaligned store when `count` covers them).
@inline(__always)
func store<Vector: SIMD>(_ v: Vector, to p: UnsafeMutablePointer<Float>, count: Int) where Vector.Scalar == Float {
    if count == Vector.scalarCount {
        store(v, to: p)
    } else {
        for lane in 0..<count { p[lane] = v[lane] }
    }
}

/// Loads `count` floats from `p` into the first lanes (the rest zero), never reading past them.
@inline(__always)
func load<Vector: SIMD>(_ p: UnsafePointer<Float>, count: Int) -> Vector where Vector.Scalar == Float {
    if count == Vector.scalarCount { return load(p) }
    var v = Vector()
    for lane in 0..<count { v[lane] = p[lane] }
    return v
}
