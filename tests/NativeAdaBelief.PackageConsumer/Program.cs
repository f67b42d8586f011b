// Uses the NativeAdaBelief package exactly as a user would: restored from a feed, with the
// native library coming from the package's runtimes/<rid>/native folder. Exits non-zero on any
// failure, so a package that does not work on its own fails the build.
//
//   dotnet run --project tests/NativeAdaBelief.PackageConsumer
//   dotnet run --project tests/NativeAdaBelief.PackageConsumer -- --expect-missing-library
//       (after deleting the native library from the output: checks the failure message instead)
//   dotnet publish tests/NativeAdaBelief.PackageConsumer -r RID --self-contained -o DIR
//   DIR/NativeAdaBelief.PackageConsumer --self-contained
//       (a published app, which has the package's runtimes/RID/native library beside it;
//       ./build.sh runs it for linux-x64, linux-arm64 and win-x64, see README: Platforms)
using System.Runtime.InteropServices;
using NativeAdaBelief;

if (args.Contains("--expect-missing-library"))
{
    try
    {
        using var nothing = new AdaBeliefOptimizer();
        return Fail("the optimizer was created although the native library should be missing");
    }
    catch (NativeLibraryNotFoundException e)
    {
        Console.WriteLine(e.Message);
        return e.SearchedPaths.Count >= 3 && e.Message.Contains("NATIVE_ADABELIEF_LIBRARY", StringComparison.Ordinal)
            ? Pass("a missing native library is reported with every place searched")
            : Fail("the message does not list the searched places");
    }
    catch (Exception e)
    {
        return Fail($"expected NativeLibraryNotFoundException, got {e.GetType().FullName}: {e.Message}");
    }
}

if (Environment.GetEnvironmentVariable("NATIVE_ADABELIEF_LIBRARY") is { Length: > 0 } overridden)
{
    return Fail($"NATIVE_ADABELIEF_LIBRARY is set ({overridden}): unset it, the package must work on its own");
}

// One step of the default (labml, rectified) AdaBelief is an SGD-with-momentum step while the
// rectification term is intractable: m = (1 - b1) g, bias correction 1 - b1, so theta -= lr * g.
using var optimizer = new AdaBeliefOptimizer(new AdaBeliefOptions { LearningRate = 0.1 });
using var parameters = NativeBuffer.FromSpan([1f, 2f, 3f]);
using var gradients = NativeBuffer.FromSpan([1f, -1f, 0.5f]);
OptimizerTensor tensor = optimizer.ParamGroups[0].AddTensor(parameters, gradients);
float[] managed = [0.5f, 0.5f];
optimizer.ParamGroups[0].AddTensor(managed, new float[] { 1f, 1f });
optimizer.Step();

float[] expected = [0.9f, 2.1f, 2.95f];
for (int i = 0; i < expected.Length; i++)
{
    if (Math.Abs(parameters.Span[i] - expected[i]) > 1e-6f)
    {
        return Fail($"after one step parameter {i} is {parameters.Span[i]}, expected {expected[i]}");
    }
}
if (Math.Abs(managed[0] - 0.4f) > 1e-6f)
{
    return Fail($"the pinned managed tensor is {managed[0]}, expected 0.4");
}

for (int i = 0; i < 9; i++)
{
    optimizer.Step();
}
if (tensor.Step != 10)
{
    return Fail($"the tensor's step count is {tensor.Step}, expected 10");
}

var checkpoint = new MemoryStream();
optimizer.SaveCheckpoint(checkpoint);
checkpoint.Position = 0;
optimizer.LoadCheckpoint(checkpoint);

// Built without a RID, the app loads the library from the package's runtimes/<rid>/native folder;
// published for a RID, the SDK copies that file beside the app.
string? from = NativeAdaBeliefLibrary.LoadedFrom;
string expectedLibrary = args.Contains("--self-contained")
    ? Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "native_adabelief.dll" : "libnative_adabelief.so")
    : Path.Combine(AppContext.BaseDirectory, "runtimes");
if (from is null || !from.StartsWith(expectedLibrary, StringComparison.Ordinal))
{
    return Fail($"the native library was loaded from '{from}', not from the package's library at {expectedLibrary}");
}
// Every arm64 CPU has NEON, and the package's arm64 library must have the kernel for it.
if (RuntimeInformation.ProcessArchitecture == Architecture.Arm64 && optimizer.SimdLevel != SimdLevel.Neon)
{
    return Fail($"on arm64 the CPU kernel is {optimizer.SimdLevel}, expected Neon");
}

return Pass($"NativeAdaBelief {NativeAdaBeliefLibrary.Version} from the package works on {RuntimeInformation.RuntimeIdentifier} " +
    $"({RuntimeInformation.OSDescription}; native library: {from}, SIMD {optimizer.SimdLevel}, {optimizer.ThreadCount} threads)");

static int Pass(string message)
{
    Console.WriteLine("package consumer: OK: " + message);
    return 0;
}

static int Fail(string message)
{
    Console.Error.WriteLine("package consumer: FAILED: " + message);
    return 1;
}
