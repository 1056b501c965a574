import Dispatch
import Foundation
import Synchronization
import XCTest
@testable import FERVision

/// The kernel threads (`WorkerPool`, behind `BLAS.parallelSlices`): every slice runs once, whoever calls,
/// however often, and after the helpers have gone to sleep.
final class WorkerPoolTests: XCTestCase {
    override func tearDown() { BLAS.setThreadCount(1) }

    /// Runs one split of `count` items and checks each item was visited exactly once, by its own part.
    private func checkOneSplit(count: Int, parts: Int, file: StaticString = #filePath, line: UInt = #line) {
        let visits = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        visits.initialize(repeating: 0)
        defer { visits.deallocate() }
        let partsSeen = Locked<Set<Int>>([])
        BLAS.parallelSlices(of: count, parts: parts) { part, range in
            partsSeen.withLock { _ = $0.insert(part) }
            for index in range { visits[index] += 1 }
        }
        XCTAssertEqual(Array(visits), Array(repeating: 1, count: count), "every item once", file: file, line: line)
        XCTAssertEqual(partsSeen.withLock { $0 }, Set(0..<min(parts, count)), "every part ran", file: file, line: line)
    }

    func testEverySliceRunsOnceWithEachThreadCount() {
        for threads in [2, 3, 1, 2] {
            BLAS.setThreadCount(threads)
            for count in [1, 2, 7, 1000] { checkOneSplit(count: count, parts: threads) }
        }
    }

    func testHelpersWakeAfterSleeping() {
        BLAS.setThreadCount(2)
        for _ in 0..<3 {
            checkOneSplit(count: 64, parts: 2)
            // Longer than a helper stays awake: the next split must wake it.
            usleep(UInt32(WorkerPool.spinSeconds * 3e6))
        }
    }

    func testConcurrentAndNestedCallersAllFinish() {
        BLAS.setThreadCount(2)
        let finished = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 6) { caller in
            for round in 0..<200 {
                var outer = [Int](repeating: 0, count: 2)
                outer.withUnsafeMutableBufferPointer { outer in
                    BLAS.parallelSlices(of: 2, parts: 2) { part, _ in
                        // A split inside a split finds the pool held, and still runs every slice.
                        var inner = [Int](repeating: 0, count: 10)
                        inner.withUnsafeMutableBufferPointer { inner in
                            BLAS.parallelSlices(of: 10, parts: 2) { _, range in for i in range { inner[i] = caller + round + i } }
                        }
                        outer[part] = inner.enumerated().allSatisfy { $0.element == caller + round + $0.offset } ? 1 : 0
                    }
                }
                if outer == [1, 1] { finished.add(1, ordering: .relaxed) }
            }
        }
        XCTAssertEqual(finished.load(ordering: .relaxed), 6 * 200)
    }

    /// Resizing and stopping while other threads run splits: every split still finishes with every slice
    /// once (before, a helper that saw the stop skipped its part and its caller waited forever).
    func testResizeAndStopDuringRunsNeverStrandASplit() {
        let done = Atomic<Int>(0), resizing = Atomic<Bool>(true)
        let group = DispatchGroup()
        for caller in 0..<2 {
            group.enter()
            Thread {
                defer { group.leave() }
                var round = 0
                while resizing.load(ordering: .relaxed) || round < 50 {
                    var visits = [Int](repeating: 0, count: 64)
                    visits.withUnsafeMutableBufferPointer { visits in
                        BLAS.parallelSlices(of: 64, parts: 2 + (round + caller) % 2) { _, range in for i in range { visits[i] += 1 } }
                    }
                    if visits.allSatisfy({ $0 == 1 }) { done.add(1, ordering: .relaxed) }
                    round += 1
                }
            }.start()
        }
        for size in 0..<300 { BLAS.setThreadCount([1, 2, 3][size % 3]) }
        for _ in 0..<100 {
            let pool = WorkerPool(helperCount: 1)
            let started = DispatchSemaphore(value: 0)
            let ran = Atomic<Int>(0)
            Thread {
                _ = pool.run(parts: 2) { _ in
                    started.signal()
                    usleep(200)
                    ran.add(1, ordering: .relaxed)
                }
            }.start()
            started.wait()
            pool.stop()   // waits for that run: both of its parts have run by now
            XCTAssertEqual(ran.load(ordering: .relaxed), 2)
            XCTAssertFalse(pool.run(parts: 2) { _ in })
        }
        resizing.store(false, ordering: .relaxed)
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success, "a split was stranded by a resize")
        XCTAssertGreaterThanOrEqual(done.load(ordering: .relaxed), 100)
    }

    func testAPoolThatIsHeldRefusesAndAStoppedPoolRunsNothing() {
        let pool = WorkerPool(helperCount: 1)
        var ranInside = false, ranTwice = false
        XCTAssertTrue(pool.run(parts: 2) { part in
            if part == 0 { ranInside = !pool.run(parts: 2) { _ in ranTwice = true } }
        })
        XCTAssertTrue(ranInside, "a second caller is refused while the pool is held")
        XCTAssertFalse(ranTwice)
        XCTAssertFalse(pool.run(parts: 3) { _ in }, "more parts than threads")
        pool.stop()
        XCTAssertFalse(pool.run(parts: 2) { _ in }, "a stopped pool runs nothing")
    }
}
