namespace NativeAdaBelief;

/// <summary>
/// The element type of a tensor's parameter or gradient buffer. The optimizer's own state (m, s,
/// s_max and master copies) is always float32 and all of its arithmetic is float32: 16-bit
/// values are widened exactly when read, and rounded to nearest, ties to even, when written.
/// </summary>
public enum TensorElementType
{
    /// <summary>IEEE-754 binary32 (<see cref="float"/>, 4 bytes), the default.</summary>
    Float32 = 0,

    /// <summary>
    /// IEEE-754 binary16 (<see cref="Half"/>, 2 bytes): 5 exponent bits and 10 mantissa bits;
    /// the largest finite value is 65504.
    /// </summary>
    Float16 = 1,

    /// <summary>
    /// bfloat16 (<see cref="NativeAdaBelief.BFloat16"/>, 2 bytes): the upper half of a float32,
    /// with float32's range and 7 mantissa bits.
    /// </summary>
    BFloat16 = 2,
}
