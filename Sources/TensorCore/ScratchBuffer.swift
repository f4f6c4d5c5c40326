import Foundation

/// A Float buffer taken from a process-wide pool and returned to it when the
/// last reference goes away, so that the large temporaries of a training step
/// (unfolded convolution inputs and their gradients) reuse the same memory
/// every step instead of being mapped and zeroed anew by the kernel.
///
/// Contents are uninitialized on acquisition.
final class ScratchBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    private init(pointer: UnsafeMutablePointer<Float>, count: Int) {
        self.pointer = pointer
        self.count = count
    }

    /// Returns a buffer of exactly `count` elements, reused from the pool
    /// when one of that size is free.
    static func acquire(_ count: Int) -> ScratchBuffer {
        let reused: UnsafeMutablePointer<Float>? = ScratchPool.lock.withLock {
            guard var free = ScratchPool.free[count], let pointer = free.popLast() else { return nil }
            ScratchPool.free[count] = free
            ScratchPool.pooledElements -= count
            return pointer
        }
        let pointer = reused ?? UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        return ScratchBuffer(pointer: pointer, count: count)
    }

    deinit {
        let keep = ScratchPool.lock.withLock { () -> Bool in
            guard ScratchPool.pooledElements + count <= ScratchPool.maxPooledElements else { return false }
            ScratchPool.free[count, default: []].append(pointer)
            ScratchPool.pooledElements += count
            return true
        }
        if !keep { pointer.deallocate() }
    }
}

/// Free buffers by element count.
enum ScratchPool {
    static let lock = NSLock()
    nonisolated(unsafe) static var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    nonisolated(unsafe) static var pooledElements = 0
    /// At most 4 GiB of idle buffers are kept; beyond that they are freed.
    static let maxPooledElements = 1 << 30
}
