import CBLAS
import Dispatch
import Foundation

/// Thread settings of the engine.
///
/// The engine owns its threads: OpenBLAS is kept single-threaded and large
/// products are split across threads by `gemmStrided`. OpenBLAS's own workers
/// spin in `sched_yield` between calls, which on a 2-core machine took the
/// cores away from the element-wise loops that run between GEMMs.
public enum Threading {
    /// Threads used by loops and GEMM splits; `HYPERFIELD_THREADS` overrides
    /// the number of active processors.
    nonisolated(unsafe) public private(set) static var threadCount: Int = {
        let fromEnvironment = ProcessInfo.processInfo.environment["HYPERFIELD_THREADS"].flatMap { Int($0) }
        let count = max(1, fromEnvironment ?? ProcessInfo.processInfo.activeProcessorCount)
        openblas_set_num_threads(1)
        _ = HeapTuning.applied
        return count
    }()

    /// Sets the number of threads used by loops and GEMM splits. Results are
    /// bit-identical for a fixed thread count.
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "setThreadCount: thread count must be at least 1, got \(count)")
        ensureConfigured()
        threadCount = count
    }

    /// Sets OpenBLAS to one thread and tunes the heap before the first
    /// GEMM.
    static func ensureConfigured() {
        _ = threadCount
    }
}

/// A raw pointer that may cross into `parallelFor` workers. Each worker must
/// touch a disjoint range, which is the caller's responsibility.
struct SharedPointer<Element>: @unchecked Sendable {
    let base: UnsafeMutablePointer<Element>
    init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
    subscript(index: Int) -> Element {
        get { base[index] }
        nonmutating set { base[index] = newValue }
    }
}

/// Read-only counterpart of `SharedPointer`.
struct SharedConstPointer<Element>: @unchecked Sendable {
    let base: UnsafePointer<Element>
    init(_ base: UnsafePointer<Element>) { self.base = base }
    subscript(index: Int) -> Element { base[index] }
}

/// Below this many elements of work a loop runs on the calling thread; the
/// dispatch overhead (a few microseconds) would cost more than it saves.
let parallelGrain = 1 << 15

/// Splits `0..<count` into contiguous chunks and runs `body` on each chunk,
/// using up to `Threading.threadCount` threads. Chunk boundaries depend only
/// on `count` and the thread count, so results are reproducible.
///
/// - Parameter cost: work per index, in elements, used to decide whether
///   splitting is worth it.
func parallelFor(_ count: Int, cost: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
    let threads = Threading.threadCount
    if threads <= 1 || count < 2 || count * cost < parallelGrain {
        if count > 0 { body(0..<count) }
        return
    }
    let chunks = min(threads, count)
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        let start = count * chunk / chunks
        let end = count * (chunk + 1) / chunks
        if start < end { body(start..<end) }
    }
}

/// `destination[i] += source[i]` for every element.
func addInPlace(_ destination: inout [Float], _ source: [Float]) {
    precondition(destination.count == source.count, "addInPlace: \(destination.count) vs \(source.count) elements")
    let count = destination.count
    if count == 0 { return }
    destination.withUnsafeMutableBufferPointer { out in
        source.withUnsafeBufferPointer { input in
            let o = SharedPointer(out.baseAddress!)
            let i = SharedConstPointer(input.baseAddress!)
            parallelFor(count) { range in
                for index in range { o[index] += i[index] }
            }
        }
    }
}

/// glibc's `mallopt` (declared in malloc.h, which the Glibc module does not
/// export).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

enum HeapTuning {
    /// Keeps large buffers on the heap and keeps freed heap memory mapped.
    ///
    /// By default glibc serves blocks over its mmap threshold (128 KiB,
    /// rising dynamically to 32 MiB) with mmap and unmaps them on free, and
    /// returns free memory at the top of the heap to the kernel past 128 KiB.
    /// Either way every training step would fault its activations in anew and
    /// the kernel would zero them. That page clearing took a fifth of the
    /// autoencoder's step time in a profile on a 2-core machine. With both
    /// thresholds raised, freed buffers are reused by the next step.
    static let applied: Bool = {
        let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
        let trimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
        return glibcMallopt(mmapThreshold, 1 << 30) == 1 && glibcMallopt(trimThreshold, Int32.max) == 1
    }()
}
