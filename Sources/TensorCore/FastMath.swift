/// `e^x` in Float32 with a relative error below 2e-7 over the normal range,
/// written without calls so that loops over it vectorize (glibc's `expf` is a
/// call per element, which dominated softmax and attention time).
///
/// Method: `x = k·ln2 + r` with `k = round(x / ln2)` and `|r| ≤ ln2/2`, then
/// `e^r` from a degree-6 Taylor polynomial and `2^k` built in the exponent
/// bits. Inputs are clamped to `[-87.3, 88.37]`, so the result underflows to
/// about 1.2e-38 instead of 0 for very negative `x`, and saturates near
/// 2.4e38 for large `x`; NaN in gives NaN out.
@inline(__always)
public func fastExp(_ x: Float) -> Float {
    let clamped = min(max(x, -87.3), 88.37)
    // Adding 1.5·2²³ rounds x/ln2 to the nearest integer k and leaves k in the
    // low mantissa bits (bit pattern 0x4B40_0000 + k), with no libm call and
    // no trapping conversion, so the loop vectorizes.
    let shifted = clamped * 1.442_695_04 + 12_582_912
    let k = shifted - 12_582_912
    let exponentBits = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000 &+ 127
    // ln 2 split into a high part exact in Float and a low correction.
    let r = clamped - k * 0.693_145_75 - k * 1.428_606_8e-6
    var p: Float = 1.0 / 720
    p = p * r + 1.0 / 120
    p = p * r + 1.0 / 24
    p = p * r + 1.0 / 6
    p = p * r + 0.5
    p = p * r + 1
    p = p * r + 1
    let result = p * Float(bitPattern: UInt32(bitPattern: exponentBits &<< 23))
    return x.isNaN ? x : result
}

// Reductions with eight independent accumulators. Without fast-math, LLVM
// keeps a floating-point reduction in source order and cannot vectorize it;
// SIMD lanes make the reassociation explicit.

/// Sum of `count` values.
@inline(__always)
func vectorSum(_ values: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var index = 0
    while index + 8 <= count {
        lanes += UnsafeRawPointer(values + index).loadUnaligned(as: SIMD8<Float>.self)
        index += 8
    }
    var total = lanes.sum()
    while index < count {
        total += values[index]
        index += 1
    }
    return total
}

/// Maximum of `count` values; `-infinity` for none.
@inline(__always)
func vectorMax(_ values: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: -.infinity)
    var index = 0
    while index + 8 <= count {
        lanes = pointwiseMax(lanes, UnsafeRawPointer(values + index).loadUnaligned(as: SIMD8<Float>.self))
        index += 8
    }
    var maximum = lanes.max()
    while index < count {
        maximum = max(maximum, values[index])
        index += 1
    }
    return maximum
}

/// Dot product of two runs of `count` values.
@inline(__always)
func vectorDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    var index = 0
    while index + 8 <= count {
        lanes += UnsafeRawPointer(a + index).loadUnaligned(as: SIMD8<Float>.self)
            * UnsafeRawPointer(b + index).loadUnaligned(as: SIMD8<Float>.self)
        index += 8
    }
    var total = lanes.sum()
    while index < count {
        total += a[index] * b[index]
        index += 1
    }
    return total
}

/// `Σ (values[i] − center)²` over `count` values.
@inline(__always)
func vectorSquaredDeviation(_ values: UnsafePointer<Float>, _ count: Int, from center: Float) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    let centers = SIMD8<Float>(repeating: center)
    var index = 0
    while index + 8 <= count {
        let d = UnsafeRawPointer(values + index).loadUnaligned(as: SIMD8<Float>.self) - centers
        lanes += d * d
        index += 8
    }
    var total = lanes.sum()
    while index < count {
        let d = values[index] - center
        total += d * d
        index += 1
    }
    return total
}

/// `Σ weights[i] · (values[i] − center)` over `count` values.
@inline(__always)
func vectorCenteredDot(
    _ weights: UnsafePointer<Float>, _ values: UnsafePointer<Float>, _ count: Int, center: Float
) -> Float {
    var lanes = SIMD8<Float>(repeating: 0)
    let centers = SIMD8<Float>(repeating: center)
    var index = 0
    while index + 8 <= count {
        let w = UnsafeRawPointer(weights + index).loadUnaligned(as: SIMD8<Float>.self)
        let d = UnsafeRawPointer(values + index).loadUnaligned(as: SIMD8<Float>.self) - centers
        lanes += w * d
        index += 8
    }
    var total = lanes.sum()
    while index < count {
        total += weights[index] * (values[index] - center)
        index += 1
    }
    return total
}
