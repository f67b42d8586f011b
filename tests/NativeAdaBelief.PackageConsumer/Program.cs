// Uses the NativeAdaBelief package exactly as a user would: restored from a feed, with the
// native library coming from the package's runtimes/<rid>/native folder. Exits non-zero on any
// failure, so a package that does not work on its own fails the build.
//
//   dotnet run --project tests/NativeAdaBelief.PackageConsumer
//   dotnet run --project tests/NativeAdaBelief.PackageConsumer -- --expect-missing-library
//       (after deleting the native library from the output: checks the failure message instead)
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

string? from = NativeAdaBeliefLibrary.LoadedFrom;
string expectedDirectory = Path.Combine(AppContext.BaseDirectory, "runtimes");
if (from is null || !from.StartsWith(expectedDirectory, StringComparison.Ordinal))
{
    return Fail($"the native library was loaded from '{from}', not from the package's runtimes folder under {expectedDirectory}");
}

return Pass($"NativeAdaBelief {NativeAdaBeliefLibrary.Version} from the package works (native library: {from}, SIMD {optimizer.SimdLevel}, {optimizer.ThreadCount} threads)");

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
