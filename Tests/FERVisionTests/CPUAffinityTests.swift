@testable import FERVision
import Foundation
import XCTest

/// The affinity calls reach glibc: a thread's allowed CPUs can be read, and a thread kept to one of them
/// reads back exactly that one, while other threads keep theirs.
final class CPUAffinityTests: XCTestCase {
    func testAThreadPinnedToACPUIsAllowedOnlyThatOne() {
        let allowed = CPUAffinity.allowedCPUs()
        XCTAssertFalse(allowed.isEmpty, "the process may run somewhere")
        XCTAssertLessThanOrEqual(allowed.count, ProcessInfo.processInfo.activeProcessorCount)
        let pinned = Locked<(done: Bool, succeeded: Bool, after: [Int])>((false, false, []))
        let thread = Thread {
            let succeeded = CPUAffinity.pinCallingThread(to: allowed.last!)
            pinned.withLock { $0 = (true, succeeded, CPUAffinity.allowedCPUs()) }
        }
        thread.start()
        while !pinned.withLock({ $0.done }) { usleep(1_000) }
        let result = pinned.withLock { $0 }
        XCTAssertTrue(result.succeeded)
        XCTAssertEqual(result.after, [allowed.last!])
        XCTAssertEqual(CPUAffinity.allowedCPUs(), allowed, "only the pinned thread changed")
    }
}
