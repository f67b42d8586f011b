using System.Diagnostics;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Loggers;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using NativeAdaBelief.Benchmarks;
using Perfolizer.Horology;

// The benchmark suite of docs/benchmarks.md. Usage (./build.sh bench runs it):
//   NativeAdaBelief.Benchmarks [--mode full|quick|smoke] [--out FILE.md] [--native-json FILE]
//                              [--artifacts DIR] [--report-only]
// full: every workload (1 element .. ~100M parameters), a short job; quick: small workloads,
// fewer iterations; smoke: the smallest workloads, a couple of iterations (./build.sh test).
// The correctness check runs first in every mode and fails the run on any mismatch.

var options = RunOptions.Parse(args);
if (options is null)
{
    Console.Error.WriteLine("usage: NativeAdaBelief.Benchmarks [--mode full|quick|smoke] [--out FILE.md] [--native-json FILE] [--artifacts DIR] [--report-only]");
    return 2;
}

Workloads.Selected = options.Mode switch
{
    "full" => Workloads.Full,
    "quick" => Workloads.Quick,
    _ => Workloads.Smoke,
};

try
{
    StreamingLimit.EnsureLoaded();
}
catch (DllNotFoundException e)
{
    Console.Error.WriteLine($"benchmarks: {e.Message}");
    return 1;
}

string resultsDirectory = Path.Combine(options.Artifacts, "results");
IReadOnlyList<CorrectnessCheck.Result> check;
IReadOnlyList<AllocationCheck.Result> allocations;
IReadOnlyList<PairedCheck.Result> paired;
(double OtherCores, double StolenCores)? contention = null;
double suiteSeconds = 0;
if (!options.ReportOnly)
{
    Console.WriteLine("==> correctness check (not timed): every managed version against the native step");
    check = CorrectnessCheck.Run();
    foreach (CorrectnessCheck.Result r in check)
    {
        Console.WriteLine($"    {r.Version,-40} max relative error {r.MaxRelativeError:E2}  {(r.Passed ? "ok" : "FAILED")}");
    }
    if (!LimitKernelSanity())
    {
        Console.Error.WriteLine("benchmarks: the streaming limit kernel did not add g's bits to p, m and s");
        return 1;
    }
    if (check.Any(r => !r.Passed))
    {
        Console.Error.WriteLine($"benchmarks: a managed version differs from the native step by more than {CorrectnessCheck.Tolerance:E0}; the comparison would not be honest.");
        return 1;
    }
    ResultFiles.Save(check, Path.Combine(options.Artifacts, "correctness.json"));

    Console.WriteLine("==> managed allocations per step (not timed): whole process, precise, best of 3 rounds");
    allocations = AllocationCheck.Run(Workloads.Selected);
    foreach (AllocationCheck.Result a in allocations)
    {
        Console.WriteLine($"    {a.Version,-14} {a.Workload,-8} threads {a.Threads,-4} {a.BytesPerStep,8:F1} B/step over {a.Steps} steps");
    }
    ResultFiles.Save(allocations, Path.Combine(options.Artifacts, "allocations.json"));

    string[] pairedWorkloads = Workloads.Selected.Where(w => Workloads.TotalElements(w) >= 1 << 20).ToArray();
    if (pairedWorkloads.Length > 0)
    {
        Console.WriteLine("==> paired ratios: ours, best managed and the limit kernel in alternating blocks");
    }
    paired = PairedCheck.Run(pairedWorkloads);
    foreach (PairedCheck.Result p in paired)
    {
        Console.WriteLine($"    {p.Workload,-12} threads {p.Threads,-4} × best managed {p.OverManaged.Median:F3} (median's 95% CI "
            + $"{p.OverManaged.Low:F3}–{p.OverManaged.High:F3})  of limit {p.OfLimit.Median * 100:F0}% ({p.OfLimit.Low * 100:F0}–{p.OfLimit.High * 100:F0}%)");
    }
    ResultFiles.Save(paired, Path.Combine(options.Artifacts, "paired.json"));

    if (Directory.Exists(resultsDirectory))
    {
        Directory.Delete(resultsDirectory, recursive: true);
    }
    var stopwatch = Stopwatch.StartNew();
    CpuMonitor? monitor = CpuMonitor.Start();
    IConfig config = BenchmarkConfig.For(options.Mode, options.Artifacts);
    var summaries = BenchmarkRunner.Run([typeof(StepBenchmarks), typeof(SingleThreadBaselines)], config);
    suiteSeconds = stopwatch.Elapsed.TotalSeconds;
    if (monitor is not null)
    {
        contention = monitor.Stop();
        File.WriteAllText(Path.Combine(options.Artifacts, "contention.json"),
            System.Text.Json.JsonSerializer.Serialize(new[] { contention.Value.OtherCores, contention.Value.StolenCores }));
        Console.WriteLine($"==> during the suite other processes used {contention.Value.OtherCores:F2} cores on average, the hypervisor stole {contention.Value.StolenCores:F2}");
        if (contention.Value.OtherCores > 0.1)
        {
            Console.WriteLine("    WARNING: the machine was not quiet; the ratios below are contended (the report says so). Rerun when it is idle.");
        }
    }
    if (summaries.Any(s => s.HasCriticalValidationErrors) || summaries.SelectMany(s => s.Reports).Any(r => !r.Success))
    {
        Console.Error.WriteLine("benchmarks: BenchmarkDotNet reported failed benchmarks (see the log above).");
        return 1;
    }
}
else
{
    check = ResultFiles.Load<CorrectnessCheck.Result>(Path.Combine(options.Artifacts, "correctness.json"));
    allocations = ResultFiles.Load<AllocationCheck.Result>(Path.Combine(options.Artifacts, "allocations.json"));
    paired = ResultFiles.Load<PairedCheck.Result>(Path.Combine(options.Artifacts, "paired.json"));
    string contentionFile = Path.Combine(options.Artifacts, "contention.json");
    if (File.Exists(contentionFile) && System.Text.Json.JsonSerializer.Deserialize<double[]>(File.ReadAllText(contentionFile)) is [var other, var stolen])
    {
        contention = (other, stolen);
    }
}

string? bdnJson = Directory.Exists(resultsDirectory)
    ? Directory.GetFiles(resultsDirectory, "*-report-full.json").OrderBy(File.GetLastWriteTimeUtc).LastOrDefault()
    : null;
if (bdnJson is null)
{
    Console.Error.WriteLine($"benchmarks: no BenchmarkDotNet JSON export under {resultsDirectory}.");
    return 1;
}

string markdown = Report.Build(new ReportInput(options.Mode, bdnJson, options.NativeJson, check, allocations, paired, suiteSeconds, contention,
    BenchmarkConfig.Describe(options.Mode)));
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(options.Out))!);
// Sections that other benchmarks write into the same page (<!-- BEGIN name ... --> to <!-- END name -->) stay as they are.
string kept = File.Exists(options.Out)
    ? string.Concat(System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(options.Out), @"<!-- BEGIN (\S+)[^>]*-->.*?<!-- END \1 -->",
        System.Text.RegularExpressions.RegexOptions.Singleline).Select(m => Environment.NewLine + m.Value + Environment.NewLine))
    : "";
File.WriteAllText(options.Out, markdown + kept);
Console.WriteLine($"==> wrote {options.Out} (from {bdnJson}{(options.NativeJson is null ? "" : $" and {options.NativeJson}")})");
return 0;

static bool AllBits(ReadOnlySpan<float> values, uint bits)
{
    foreach (float v in values)
    {
        if (BitConverter.SingleToUInt32Bits(v) != bits)
        {
            return false;
        }
    }
    return true;
}

static unsafe bool LimitKernelSanity()
{
    var t = new TensorArrays(37);
    try
    {
        t.P.Fill(1f);
        t.G.Fill(0.25f);
        StreamingLimit.Run(t.Parameters, t.Gradients, t.FirstMoment, t.SecondMoment, t.Length, 0);
        // The kernel adds the gradient's bits to each array's bits as integers (streaming_limit.h).
        uint g = BitConverter.SingleToUInt32Bits(0.25f);
        return AllBits(t.P, BitConverter.SingleToUInt32Bits(1f) + g) && AllBits(t.M, g) && AllBits(t.S, g);
    }
    finally
    {
        t.Free();
    }
}

namespace NativeAdaBelief.Benchmarks
{
    internal sealed record RunOptions(string Mode, string Out, string? NativeJson, string Artifacts, bool ReportOnly)
    {
        public static RunOptions? Parse(string[] args)
        {
            string mode = "full";
            string? output = null, nativeJson = null, artifacts = null;
            bool reportOnly = false;
            for (int i = 0; i < args.Length; i++)
            {
                string? Next() => i + 1 < args.Length ? args[++i] : null;
                switch (args[i])
                {
                    case "--mode": mode = Next() ?? ""; break;
                    case "--quick": mode = "quick"; break;
                    case "--smoke": mode = "smoke"; break;
                    case "--out": output = Next(); break;
                    case "--native-json": nativeJson = Next(); break;
                    case "--artifacts": artifacts = Next(); break;
                    case "--report-only": reportOnly = true; break;
                    default: return null;
                }
            }
            if (mode is not ("full" or "quick" or "smoke"))
            {
                return null;
            }
            string root = RepoRoot();
            artifacts ??= Path.Combine(root, "artifacts", "bench", mode);
            output ??= mode == "full" ? Path.Combine(root, "docs", "benchmarks.md") : Path.Combine(artifacts, "benchmarks.md");
            return new RunOptions(mode, output, nativeJson, artifacts, reportOnly);
        }

        private static string RepoRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "NativeAdaBelief.sln")))
                {
                    return dir.FullName;
                }
            }
            return Directory.GetCurrentDirectory();
        }
    }

    /// <summary>The short BenchmarkDotNet job of each mode, in this process (no generated project).</summary>
    internal static class BenchmarkConfig
    {
        private static (int Warmup, int Iterations, int IterationMs) Settings(string mode) => mode switch
        {
            "full" => (2, 5, 150),
            "quick" => (1, 3, 50),
            _ => (1, 2, 10),
        };

        public static string Describe(string mode)
        {
            (int warmup, int iterations, int ms) = Settings(mode);
            return $"in-process, 1 launch, {warmup} warm-up and {iterations} measured iterations of ~{ms} ms "
                + "(one invocation per iteration when a step takes longer), no overhead subtraction, MemoryDiagnoser";
        }

        public static IConfig For(string mode, string artifacts)
        {
            (int warmup, int iterations, int ms) = Settings(mode);
            Job job = Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1)
                .WithWarmupCount(warmup)
                .WithIterationCount(iterations)
                .WithIterationTime(TimeInterval.FromMilliseconds(ms))
                .WithUnrollFactor(1)
                .WithEvaluateOverhead(false) // a call costs ≥ 25 ns here; the empty loop's ~1 ns is not worth the time
                .WithGcServer(false)
                .WithId(mode);
            return ManualConfig.CreateEmpty()
                .AddJob(job)
                .AddDiagnoser(MemoryDiagnoser.Default)
                .AddExporter(JsonExporter.Full, MarkdownExporter.GitHub)
                .AddLogger(ConsoleLogger.Default)
                .AddColumnProvider(BenchmarkDotNet.Columns.DefaultColumnProviders.Instance)
                .WithArtifactsPath(artifacts)
                .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);
        }
    }
}
