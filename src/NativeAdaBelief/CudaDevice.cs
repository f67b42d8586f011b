using NativeAdaBelief.Interop;

namespace NativeAdaBelief;

/// <summary>What CUDA devices this process can use.</summary>
public static class CudaDevice
{
    /// <summary>
    /// The number of CUDA devices visible to this process: 0 without an NVIDIA driver, without a
    /// GPU, or when the native library was built without its CUDA backend.
    /// </summary>
    public static unsafe int Count
    {
        get
        {
            NativeRuntime.EnsureInitialized();
            int count;
            NativeStatus.Check(NativeMethods.nab_cuda_get_device_count(&count));
            return count;
        }
    }

    /// <summary>True when at least one CUDA device is visible (see <see cref="Count"/>).</summary>
    public static bool IsAvailable => Count > 0;
}
