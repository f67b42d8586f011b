namespace NativeAdaBelief;

/// <summary>Where an optimizer keeps its state and runs its step.</summary>
public enum DeviceType
{
    /// <summary>The CPU (the default).</summary>
    Cpu = 0,

    /// <summary>
    /// A CUDA device, when the native library was built with CUDA. Parameters and gradients must
    /// then be device memory, registered as raw pointers.
    /// </summary>
    Cuda = 1,
}
