#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

// Explicit SIMD helpers for element-wise loops that the compiler does not
// vectorize on its own.

/// Four Float lanes: one SSE register, which every x86-64 CPU has.
typealias FloatVector = SIMD4<Float>

/// Lane-wise square root, correctly rounded like `Float.squareRoot()`, so a
/// vector loop and its scalar tail give the same bits.
///
/// `Float.squareRoot()` and `SIMD.squareRoot()` compile to a scalar `sqrtss`
/// with a `sqrtf` call for negative inputs (C's errno rule), which blocks
/// vectorization. The SSE intrinsic has no such branch.
@inline(__always)
func squareRoot(_ x: FloatVector) -> FloatVector {
    #if arch(x86_64)
    return FloatVector(_mm_sqrt_ps(x))
    #else
    // NOTE: other architectures take the scalarized standard-library path,
    // which is correct but slower.
    return x.squareRoot()
    #endif
}

extension UnsafePointer where Pointee == Float {
    /// Loads the four elements starting at `index`, with no alignment
    /// requirement.
    @inline(__always)
    func vector(at index: Int) -> FloatVector {
        UnsafeRawPointer(self + index).loadUnaligned(as: FloatVector.self)
    }
}

extension UnsafeMutablePointer where Pointee == Float {
    /// Loads the four elements starting at `index`, with no alignment
    /// requirement.
    @inline(__always)
    func vector(at index: Int) -> FloatVector {
        UnsafeRawPointer(self + index).loadUnaligned(as: FloatVector.self)
    }

    /// Writes `value` to the four elements starting at `index`, with no
    /// alignment requirement.
    @inline(__always)
    func storeVector(_ value: FloatVector, at index: Int) {
        UnsafeMutableRawPointer(self + index).storeBytes(of: value, as: FloatVector.self)
    }
}
