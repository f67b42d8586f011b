using System.Reflection;
using System.Runtime.InteropServices;

namespace NativeAdaBelief.Benchmarks;

/// <summary>
/// The memory limit of a step: the native in-place streaming kernel of native/benchmarks
/// (reads θ, g, m, s and writes θ, m, s once per element, 28 bytes, almost no arithmetic) on
/// the same thread pool type as the optimizer, from the shared library nab_streaming_limit.
/// </summary>
public static unsafe partial class StreamingLimit
{
    private const string LibraryName = "nab_streaming_limit";
    private const string FileName = "libnab_streaming_limit.so";
    public const string EnvironmentVariable = "NAB_STREAMING_LIMIT_LIBRARY";

    private static string? _loadedFrom;

    /// <summary>Where the library was loaded from (after <see cref="EnsureLoaded"/>).</summary>
    public static string? LoadedFrom => _loadedFrom;

    /// <summary>
    /// Registers the resolver and loads the library, or throws <see cref="DllNotFoundException"/>
    /// saying where it looked and how to build it.
    /// </summary>
    public static void EnsureLoaded()
    {
        if (_loadedFrom is not null)
        {
            return;
        }
        var tried = new List<string>();
        string? explicitPath = Environment.GetEnvironmentVariable(EnvironmentVariable);
        string[] candidates = string.IsNullOrEmpty(explicitPath)
            ? [Path.Combine(AppContext.BaseDirectory, FileName)]
            : [explicitPath];
        foreach (string candidate in candidates)
        {
            tried.Add(candidate);
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out nint handle))
            {
                NativeLibrary.SetDllImportResolver(Assembly.GetExecutingAssembly(),
                    (name, _, _) => name == LibraryName ? handle : 0);
                _loadedFrom = candidate;
                return;
            }
        }
        throw new DllNotFoundException(
            $"The memory-limit kernel library {FileName} was not found or could not be loaded (tried: {string.Join(", ", tried)}). "
            + "It is built by CMake from native/benchmarks (target nab_streaming_limit): run ./build.sh bench, or "
            + "cmake --build build/release --target nab_streaming_limit and rebuild this project so it is copied next to it, "
            + $"or set {EnvironmentVariable} to the file's full path.");
    }

    /// <summary>
    /// The limit's arrays for <paramref name="elementCount"/> elements, the whole workload as one
    /// contiguous region, with the parameters and gradients filled. Every array must be written
    /// before it is timed: the library's large blocks are fresh mappings, and a gradient array
    /// never written is read from the kernel's shared zero page, which costs no DRAM traffic, so
    /// the limit would move 24 bytes per element instead of 28 and look 17% faster than it is.
    /// </summary>
    public static TensorArrays Arrays(long elementCount)
    {
        var arrays = new TensorArrays(checked((int)elementCount));
        Fill.Parameters(arrays.P, 1);
        Fill.Gradients(arrays.G, 2);
        return arrays;
    }

    /// <summary>One streaming pass over n elements with the given threads (0 = one per logical core).</summary>
    public static void Run(float* parameters, float* gradients, float* firstMoment, float* secondMoment, long n, int threads)
    {
        if (nab_bench_streaming_limit(parameters, gradients, firstMoment, secondMoment, (ulong)n, threads) != 0)
        {
            throw new InvalidOperationException("nab_bench_streaming_limit refused its arguments.");
        }
    }

    /// <summary>The thread count that threads = 0 means.</summary>
    public static int HardwareThreads => nab_bench_hardware_threads();

    [LibraryImport(LibraryName)]
    private static partial int nab_bench_streaming_limit(float* p, float* g, float* m, float* s, ulong n, int threads);

    [LibraryImport(LibraryName)]
    private static partial int nab_bench_hardware_threads();
}
