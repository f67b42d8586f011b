namespace NativeAdaBelief.Tests.Cuda;

/// <summary>
/// A fact that needs a CUDA device: where this process sees none it is reported as skipped,
/// with the reason, instead of silently passing.
/// </summary>
public sealed class GpuFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when no CUDA device is visible.</summary>
    public GpuFactAttribute()
    {
        if (!CudaDevice.IsAvailable)
        {
            Skip = "no CUDA device visible (no NVIDIA driver/GPU, or a native library built without nvcc); "
                + "the CUDA path is validated on a GPU machine, see docs/gpu-validation.md";
        }
    }
}

/// <summary>
/// A theory that needs a CUDA device: where this process sees none it is reported as skipped,
/// with the reason, instead of silently passing.
/// </summary>
public sealed class GpuTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when no CUDA device is visible.</summary>
    public GpuTheoryAttribute()
    {
        if (!CudaDevice.IsAvailable)
        {
            Skip = "no CUDA device visible (no NVIDIA driver/GPU, or a native library built without nvcc); "
                + "the CUDA path is validated on a GPU machine, see docs/gpu-validation.md";
        }
    }
}

/// <summary>
/// A fact about machines without a CUDA device (how the library fails there): reported as
/// skipped, with the reason, where a device is visible.
/// </summary>
public sealed class NoGpuFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when a CUDA device is visible.</summary>
    public NoGpuFactAttribute()
    {
        if (CudaDevice.IsAvailable)
        {
            Skip = "a CUDA device is visible; this test covers machines without one";
        }
    }
}
