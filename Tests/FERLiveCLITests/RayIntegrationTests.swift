import Foundation
import XCTest

/// integrations/ray on a real local Ray cluster (`ray start --head`, 2 CPUs): 40 clips, a worker killed
/// mid-run, every clip done exactly once, the results equal to a plain `fer-live analyze`. The test
/// script makes its own venv with Ray from PyPI; it is skipped, with its message, where pip cannot reach
/// a registry or ffmpeg is missing.
final class RayIntegrationTests: XCTestCase {
    func testKilledWorkerLosesNothingAndDuplicatesNothing() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: CLIRunner.binary.path), "fer-live was not built")
        let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { "\($0)/python3" }
                .first { FileManager.default.isExecutableFile(atPath: $0) }
        try XCTSkipIf(python == nil, "python3 is not installed: skipping the Ray integration test")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("integrations/ray/test_fer_ray.py").path
        let run = try CLIRunner.run([script, "--fer-live", CLIRunner.binary.path, "--model", CLIRunner.fixture("narrow_resnet9.safetensors")],
                                    executable: python)
        try XCTSkipIf(run.status == 77, run.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssert(run.stdout.contains("every clip done once"), run.stdout + run.stderr)
    }
}
