namespace NativeAdaBelief.Tests.Support;

/// <summary>The three ways a tensor's memory can be registered.</summary>
public enum MemoryKind
{
    NativeBuffer,
    ManagedArray,
    RawPointer,
}
