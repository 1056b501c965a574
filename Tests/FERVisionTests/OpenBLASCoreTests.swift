@testable import FERVision
import Foundation
import XCTest

/// OpenBLAS runs kernels that use this CPU's vector units, not its generic fallback.
final class OpenBLASCoreTests: XCTestCase {
    func testBestCoreFollowsTheWidestVectorUnits() {
        XCTAssertEqual(OpenBLASCore.bestCore(forFlags: ["fma", "avx2", "avx512f", "avx512bw", "avx512dq", "avx512vl"]), "SkylakeX")
        XCTAssertEqual(OpenBLASCore.bestCore(forFlags: ["fma", "avx2", "avx512f"]), "Haswell", "AVX-512 without BW/DQ/VL is not SkylakeX")
        XCTAssertEqual(OpenBLASCore.bestCore(forFlags: ["fma", "avx2"]), "Haswell")
        XCTAssertNil(OpenBLASCore.bestCore(forFlags: ["sse3", "avx"]))
    }

    func testFlagsAreReadFromTheFirstCPU() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse3 avx2 fma\n\nprocessor\t: 1\nflags\t\t: other\n"
        XCTAssertEqual(OpenBLASCore.cpuFlags(cpuinfo: cpuinfo), ["fpu", "sse3", "avx2", "fma"])
        XCTAssertEqual(OpenBLASCore.cpuFlags(cpuinfo: nil), [])
        XCTAssertEqual(OpenBLASCore.cpuFlags(cpuinfo: "no flags here"), [])
    }

    /// On a CPU with AVX2 or AVX-512, whatever OpenBLAS picked itself, the set in use is not the generic one.
    func testThisCPUDoesNotRunTheGenericKernels() throws {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else {
            throw XCTSkip("OPENBLAS_CORETYPE is set: the user's choice stands")
        }
        guard let best = OpenBLASCore.bestCore(forFlags: OpenBLASCore.cpuFlags()) else {
            throw XCTSkip("this CPU has neither AVX2 nor AVX-512: the generic kernels are the right ones")
        }
        _ = BLAS.coreName
        XCTAssertNotEqual(OpenBLASCore.currentName, OpenBLASCore.genericFallback, "expected \(best) or a CPU-specific set")
        // The selection leaves the environment as the user had it.
        XCTAssertNil(ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"])
    }
}
