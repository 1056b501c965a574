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

    /// A restart only where OpenBLAS fell back, nobody chose, this is not the restart already, and the
    /// CPU has better kernels.
    func testRestartsOnlyFromTheGenericFallbackWhenNobodyChose() {
        let avx512: Set<Substring> = ["fma", "avx2", "avx512f", "avx512bw", "avx512dq", "avx512vl"]
        XCTAssertEqual(OpenBLASCore.replacement(picked: "Prescott", environment: [:], flags: avx512), "SkylakeX")
        XCTAssertEqual(OpenBLASCore.replacement(picked: "Prescott", environment: ["HOME": "/"], flags: ["avx2", "fma"]), "Haswell")
        XCTAssertNil(OpenBLASCore.replacement(picked: "Cooperlake", environment: [:], flags: avx512), "OpenBLAS knew the CPU")
        XCTAssertNil(OpenBLASCore.replacement(picked: "Prescott", environment: ["OPENBLAS_CORETYPE": "Prescott"], flags: avx512),
                     "the user's choice stands")
        XCTAssertNil(OpenBLASCore.replacement(picked: "Prescott", environment: [OpenBLASCore.replacedVariable: "Prescott"], flags: avx512),
                     "the restart does not restart again")
        XCTAssertNil(OpenBLASCore.replacement(picked: "Prescott", environment: [:], flags: ["sse3", "avx"]), "nothing better to run")
    }
}
