import Dispatch

/// Where an item waits for a live stage that must never build a queue: one place, a newer item replaces
/// the waiting one (the caller counts it as dropped), and one drain on the stage's serial queue takes
/// items until the place is empty. A stage slower than its input thus costs items, never memory.
final class LatestSlot<Item: Sendable>: Sendable {
    private struct State {
        var waiting: Item?
        var draining = false
    }

    private let state = Locked(State())
    private let queue: DispatchQueue

    /// - Parameter queue: the stage's serial queue, where `body` runs.
    init(queue: DispatchQueue) {
        self.queue = queue
    }

    /// Puts `item` in the slot and returns whether it replaced one that was waiting. When no drain is
    /// running, starts one that hands each item it takes to `body` (every caller of a slot passes the
    /// same stage function).
    func offer(_ item: Item, to body: @escaping @Sendable (Item) -> Void) -> Bool {
        let (replaced, startDrain) = state.withLock { state in
            let replaced = state.waiting != nil
            state.waiting = item
            defer { state.draining = true }
            return (replaced, !state.draining)
        }
        if startDrain {
            queue.async { [self] in
                while let next = take() { body(next) }
            }
        }
        return replaced
    }

    /// The waiting item, or nil after marking the drain finished (under the same lock, so an item
    /// offered after this starts a new drain).
    private func take() -> Item? {
        state.withLock { state in
            guard let item = state.waiting.take() else {
                state.draining = false
                return nil
            }
            return item
        }
    }
}
