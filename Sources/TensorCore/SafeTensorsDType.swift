/// Element types of the safetensors format that this reader converts to
/// Float32. The raw value is the name used in the header's `dtype` field.
///
/// The format defines further types (the 8-bit floats `F8_E4M3` and
/// `F8_E5M2`, among others). A file that uses them is rejected as having an
/// unknown dtype.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case f64 = "F64"
    case f32 = "F32"
    case f16 = "F16"
    case bf16 = "BF16"
    case i64 = "I64"
    case i32 = "I32"
    case i16 = "I16"
    case i8 = "I8"
    case u64 = "U64"
    case u32 = "U32"
    case u16 = "U16"
    case u8 = "U8"
    case bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool: return 1
        }
    }

    /// Whether the writer can store this type. Float32 data is stored as is
    /// or rounded to F16 or BF16.
    public var isWritable: Bool {
        self == .f32 || self == .f16 || self == .bf16
    }
}

// MARK: - Half-precision conversion

/// Converts IEEE 754 binary16 bits to Float32. Every binary16 value, including
/// subnormals, infinities and NaN payloads, has an exact Float32 equivalent.
@inline(__always)
public func float16BitsToFloat(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x03FF)

    if exponent == 0x1F {
        // Infinity or NaN. The 10 payload bits move to the top of the
        // 23-bit Float32 mantissa, so a NaN stays a NaN.
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    if exponent == 0 {
        // Zero or subnormal: mantissa × 2^-24, exact in Float32.
        let magnitude = Float(mantissa) * 0x1p-24
        return sign == 0 ? magnitude : -magnitude
    }
    // Normal: rebias the exponent from 15 to 127.
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// Rounds a Float32 to the nearest IEEE 754 binary16 value, ties to even, and
/// returns its bits. Magnitudes of 65520 and above become infinity, those at
/// or below 2^-25 become zero, and NaN stays a quiet NaN.
@inline(__always)
public func floatToFloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    let sign = UInt16((bits >> 16) & 0x8000)
    let exponent = Int((bits >> 23) & 0xFF)
    let mantissa = bits & 0x007F_FFFF

    if exponent == 0xFF {
        if mantissa == 0 { return sign | 0x7C00 }
        // Keeps the top payload bits and sets the quiet bit, so that a payload
        // living only in the low bits cannot turn into infinity.
        return sign | 0x7E00 | UInt16(truncatingIfNeeded: mantissa >> 13)
    }

    let halfExponent = exponent - 127 + 15
    if halfExponent >= 0x1F {
        return sign | 0x7C00
    }
    if halfExponent <= 0 {
        // The result is subnormal or zero. The 24-bit significand, implicit
        // leading one included, is rounded down to units of 2^-24.
        if halfExponent < -10 { return sign }
        let significand = mantissa | 0x0080_0000
        let shift = UInt32(14 - halfExponent)
        let rounded = roundShiftedToNearestEven(significand, by: shift)
        // A carry into bit 10 yields the smallest normal number, which is the
        // correct encoding.
        return sign | UInt16(rounded)
    }

    // A carry out of the mantissa raises the exponent and, from 65520 up,
    // yields the infinity pattern 0x7C00, as IEEE rounding requires.
    let truncated = (UInt32(halfExponent) << 10) | (mantissa >> 13)
    let remainder = mantissa & 0x1FFF
    let roundsUp = remainder > 0x1000 || (remainder == 0x1000 && truncated & 1 == 1)
    return sign | UInt16(truncated + (roundsUp ? 1 : 0))
}

/// `value >> shift` rounded to the nearest integer, ties to even.
@inline(__always)
private func roundShiftedToNearestEven(_ value: UInt32, by shift: UInt32) -> UInt32 {
    let truncated = value >> shift
    let remainder = value & ((1 << shift) - 1)
    let halfway: UInt32 = 1 << (shift - 1)
    let roundsUp = remainder > halfway || (remainder == halfway && truncated & 1 == 1)
    return truncated + (roundsUp ? 1 : 0)
}

/// Converts bfloat16 bits to Float32. A bfloat16 is the upper half of a
/// Float32, so the conversion is exact.
@inline(__always)
public func bfloat16BitsToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// Rounds a Float32 to the nearest bfloat16, ties to even, and returns its
/// bits. NaN stays a quiet NaN and values past the bfloat16 range become
/// infinity.
@inline(__always)
public func floatToBFloat16Bits(_ value: Float) -> UInt16 {
    let bits = value.bitPattern
    if value.isNaN {
        return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
    }
    let roundingBias = 0x7FFF + ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
}
