using System.Runtime.InteropServices;

namespace NativeAdaBelief.TorchSharp.Interop;

/// <summary>
/// The exports of TorchSharp's own native library (libLibTorchSharp, already loaded by
/// TorchSharp) that reading tensor addresses needs without a managed allocation per tensor and
/// step. TorchSharp 0.107 has no public <c>data_ptr()</c>: <c>Storage&lt;T&gt;.data_ptr()</c>
/// gives the storage's start for float32 and a few other types only (it converts float16 and
/// bfloat16 tensors first), and <c>Tensor.grad</c> allocates a finalizable wrapper per call.
/// </summary>
internal static partial class LibTorchSharp
{
    private const string Library = "LibTorchSharp";

    /// <summary>
    /// <c>at::Tensor::data_ptr()</c>: the address of the tensor's first element, that is its
    /// storage's start plus its storage offset; 0 when libtorch refuses (e.g. a sparse tensor),
    /// with the message for <c>torch.CheckForErrors()</c>.
    /// </summary>
    [LibraryImport(Library)]
    internal static partial nint THSTensor_data(nint tensor);

    /// <summary>A new handle on the tensor's gradient (release it with <see cref="THSTensor_dispose"/>), or 0 for none.</summary>
    [LibraryImport(Library)]
    internal static partial nint THSTensor_grad(nint tensor);

    /// <summary>Releases a handle (the tensor's memory lives on while other references hold it).</summary>
    [LibraryImport(Library)]
    internal static partial void THSTensor_dispose(nint tensor);

    /// <summary>Whether the tensor's elements are contiguous in row-major order.</summary>
    [LibraryImport(Library)]
    [return: MarshalAs(UnmanagedType.U1)]
    internal static partial bool THSTensor_is_contiguous(nint tensor);

    /// <summary>The tensor's element type (TorchSharp's <c>ScalarType</c> value).</summary>
    [LibraryImport(Library)]
    internal static partial sbyte THSTensor_type(nint tensor);

    /// <summary>The tensor's element count.</summary>
    [LibraryImport(Library)]
    internal static partial long THSTensor_numel(nint tensor);
}
