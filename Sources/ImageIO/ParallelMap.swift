import Dispatch
import Synchronization
import TensorCore

/// Computes `transform(index)` for every index in `0..<count` on up to
/// `Threading.threadCount` threads and returns the results in index order.
/// Workers take the next index from a shared counter, so uneven work, such
/// as files of different sizes, balances across threads.
func parallelMap<Result: Sendable>(count: Int, _ transform: @Sendable (Int) -> Result) -> [Result] {
    guard count > 0 else { return [] }
    let threads = min(Threading.threadCount, count)
    if threads <= 1 {
        return (0..<count).map(transform)
    }

    let results = UnsafeMutablePointer<Result>.allocate(capacity: count)
    defer { results.deallocate() }
    let output = ResultSlots(base: results)
    let nextIndex = Atomic<Int>(0)
    DispatchQueue.concurrentPerform(iterations: threads) { _ in
        while true {
            let index = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
            if index >= count { break }
            (output.base + index).initialize(to: transform(index))
        }
    }
    // The atomic counter hands out each index below `count` exactly once, and
    // concurrentPerform returns after every worker has finished, so every
    // slot is initialized here.
    let collected = Array(UnsafeBufferPointer(start: results, count: count))
    results.deinitialize(count: count)
    return collected
}

/// The result buffer shared by the workers. Each index is written by exactly
/// one worker, so the unchecked Sendable conformance holds.
private struct ResultSlots<Result>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Result>
}
