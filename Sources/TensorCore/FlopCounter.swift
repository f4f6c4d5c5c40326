/// Counts the multiply-add work of the GEMM-shaped ops (matmul, linear,
/// convolution, attention) in their forward passes, for benchmarks that
/// report an achieved FLOP rate. Counting is off unless a benchmark turns it
/// on; the backward pass of each of these ops costs twice its forward.
public enum FlopCounter {
    // NOTE: process-wide and unsynchronized; ops record from one thread.
    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) public private(set) static var forwardFlops: Double = 0

    public static func reset() {
        forwardFlops = 0
    }

    /// Adds `2·m·n·k` for one `[m, k] × [k, n]` product (times `batch`).
    @inline(__always)
    static func addProduct(m: Int, n: Int, k: Int, batch: Int = 1) {
        if isEnabled { forwardFlops += 2 * Double(m) * Double(n) * Double(k) * Double(batch) }
    }
}
