import COpenBLAS

/// The matrix multiply every convolution and linear layer runs on, and OpenBLAS's thread control.
public enum BLAS {
    /// Sets how many threads OpenBLAS uses for every following multiply (process-wide).
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's name for the CPU kernel it selected (for benchmark reports).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// `C = A * B (+ C if accumulate)`, row-major, with explicit leading dimensions.
    ///   A: [m, k] (or [k, m] read transposed when `transposeA`), B: [k, n] (or [n, k] when `transposeB`),
    ///   C: [m, n] with row stride `ldc`.
    @inline(__always)
    static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false
    ) {
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k),
                    1, a, Int32(lda), b, Int32(ldb),
                    accumulate ? 1 : 0, c, Int32(ldc))
    }
}
