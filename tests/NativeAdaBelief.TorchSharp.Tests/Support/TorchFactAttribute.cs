using System.Runtime.InteropServices;
using TorchSharp;

namespace NativeAdaBelief.TorchSharp.Tests.Support;

/// <summary>
/// A fact that needs libtorch: where TorchSharp's native library does not load (Debian 12's
/// libstdc++ is older than the GLIBCXX_3.4.32 that libLibTorchSharp.so asks for) it is reported as
/// skipped with the loader's own words; ./build.sh test runs these tests in a Debian 13 root there.
/// </summary>
public sealed class TorchFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when libtorch cannot be used in this process.</summary>
    public TorchFactAttribute()
    {
        if (TorchAvailability.Reason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>A theory that needs libtorch (see <see cref="TorchFactAttribute"/>).</summary>
public sealed class TorchTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when libtorch cannot be used in this process.</summary>
    public TorchTheoryAttribute()
    {
        if (TorchAvailability.Reason is { } reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>
/// A fact that needs a CUDA device seen by both libtorch and NativeAdaBelief: skipped with the
/// reason elsewhere (this repository's tests restore the CPU build of libtorch).
/// </summary>
public sealed class TorchCudaFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> without libtorch, a CUDA libtorch or a CUDA device.</summary>
    public TorchCudaFactAttribute()
    {
        if (TorchAvailability.Reason is { } reason)
        {
            Skip = reason;
        }
        else if (!torch.cuda.is_available() || !CudaDevice.IsAvailable)
        {
            Skip = "no CUDA device for both libtorch and NativeAdaBelief (the tests use libtorch-cpu-linux-x64, and NuGet serves no "
                + "CUDA libtorch here): the CUDA path of NativeAdaBelief.TorchSharp is not run on this machine";
        }
    }
}

/// <summary>Whether libtorch works in this process, and if not, why.</summary>
internal static class TorchAvailability
{
    private static readonly Lazy<string?> Probe = new(Check);

    /// <summary>Null when libtorch works; else the reason, for a skipped test.</summary>
    public static string? Reason => Probe.Value;

    private static string? Check()
    {
        try
        {
            using var one = torch.ones(1);
            return null;
        }
        catch (Exception e)
        {
            // TorchSharp's own message hides the loader's; ask the loader directly.
            string library = Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
            string loader = "";
            try
            {
                NativeLibrary.Free(NativeLibrary.Load(library));
            }
            catch (Exception load)
            {
                loader = " The loader says: " + load.Message.ReplaceLineEndings(" ");
            }
            return $"libtorch does not load in this process ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}).{loader} "
                + "./build.sh test runs these tests in a Debian 13 root on Debian 12 (see docs/torchsharp.md).";
        }
    }
}
