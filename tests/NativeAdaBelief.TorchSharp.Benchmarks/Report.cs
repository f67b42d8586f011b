using System.Text;

namespace NativeAdaBelief.TorchSharp.Benchmarks;

/// <summary>The TorchSharp section of docs/benchmarks.md, between its markers (the rest of the file is the core benchmark's).</summary>
internal static class Report
{
    private const string Begin = "<!-- BEGIN torchsharp (written by tests/NativeAdaBelief.TorchSharp.Benchmarks: ./build.sh torchsharp-bench) -->";
    private const string End = "<!-- END torchsharp -->";

    public static string Section(string mode, IReadOnlyList<Comparison.Result> results, IReadOnlyList<AddressCost.Result> addresses,
        string loadBefore, string loadAfter)
    {
        var md = new StringBuilder();
        md.AppendLine(Begin);
        md.AppendLine("## TorchSharp: our step() beside torch.optim.Adam and AdamW");
        md.AppendLine();
        if (mode != "full")
        {
            md.AppendLine($"> **{mode} mode**: small models and few rounds, to check that the benchmark runs. Not for comparison.");
            md.AppendLine();
        }
        md.AppendLine($"One process, one run, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, on {Machine.CpuModel()} ({Environment.ProcessorCount} cores; "
            + $"load average {loadBefore} before and {loadAfter} after: other work shared the cores). TorchSharp 0.107 with libtorch 2.10 "
            + "(CPU), in a Debian 13 root on Debian 12. The same TorchSharp model is trained by the six optimizers in turn, round by round; "
            + "each round times `zero_grad()` with forward and backward, then `step()`. Medians after two warm-up rounds. Ours is "
            + "`NativeOptim.Adam`/`AdamW` (the same arithmetic as torch.optim's, checked to 1e-5 by the tests; all cores) with float32 state and "
            + "with blockwise 8-bit state (`state_encoding: StateEncoding.Blockwise8Bit`: m and s in one byte per element plus a scale per "
            + "256, for tensors of at least 4096 elements).");
        md.AppendLine();
        md.AppendLine("| model | optimizer | step() | training iteration | step share of the iteration | step() vs torch.optim.Adam |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: |");
        foreach (IGrouping<string, Comparison.Result> model in results.GroupBy(r => r.Workload))
        {
            double torchAdam = model.Single(r => r.Optimizer == "torch.optim.Adam").StepMs;
            foreach (Comparison.Result r in model)
            {
                md.AppendLine($"| {r.Workload} ({r.Parameters / 1e6:F1}M parameters, {r.Tensors} tensors) | {r.Optimizer} | {r.StepMs:F1} ms | "
                    + $"{r.IterationMs:F1} ms | {100 * r.StepMs / r.IterationMs:F0}% | {torchAdam / r.StepMs:F2}× |");
            }
        }
        md.AppendLine();
        md.AppendLine("The targets are ≥ 3× faster than torch.optim.Adam with float32 state and ≥ 5× with 8-bit state: "
            + string.Join("; ", results.GroupBy(r => r.Workload).SelectMany(g =>
            {
                double torchAdam = g.Single(r => r.Optimizer == "torch.optim.Adam").StepMs;
                return new[] { (State: "float32", Row: "Adam", Target: 3.0), (State: "8-bit", Row: "Adam" + Comparison.EightBit, Target: 5.0) }.Select(t =>
                {
                    double ratio = torchAdam / g.Single(r => r.Optimizer == Comparison.Ours + t.Row).StepMs;
                    return $"{g.Key}, {t.State} state: {ratio:F1}× ({(ratio >= t.Target ? "met" : "not met")})";
                });
            })) + ".");
        md.AppendLine();
        md.AppendLine("Finding the gradients before each step (µs per step for all tensors): re-reading every parameter's and gradient's address "
            + "through libtorch when nothing moved; when every gradient is new memory (after TorchSharp's `module.zero_grad()`, which sets "
            + "them to None), checking each new one and registering all in one native call (`nab_optimizer_set_gradients`); and what one "
            + "native call per tensor would cost instead.");
        md.AppendLine();
        md.AppendLine("| model | tensors | unchanged | all new: checked and registered | of which the one native call | one native call per tensor instead |");
        md.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: |");
        foreach (AddressCost.Result a in addresses)
        {
            md.AppendLine($"| {a.Workload} | {a.Tensors} | {a.UnchangedMicros:F0} µs | {a.ReallocatedMicros:F0} µs | {a.OneCallMicros:F1} µs | {a.OneCallPerTensorMicros:F0} µs |");
        }
        md.AppendLine(End);
        return md.ToString();
    }

    /// <summary>Replaces the section in <paramref name="path"/> (or appends it), keeping everything else.</summary>
    public static void WriteInto(string path, string section)
    {
        string text = File.Exists(path) ? File.ReadAllText(path) : "";
        int begin = text.IndexOf("<!-- BEGIN torchsharp", StringComparison.Ordinal);
        int end = text.IndexOf(End, StringComparison.Ordinal);
        text = begin >= 0 && end > begin
            ? text[..begin] + section.TrimEnd() + text[(end + End.Length)..]
            : text.TrimEnd() + Environment.NewLine + Environment.NewLine + section;
        File.WriteAllText(path, text);
    }
}
