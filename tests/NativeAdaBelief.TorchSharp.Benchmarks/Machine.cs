namespace NativeAdaBelief.TorchSharp.Benchmarks;

/// <summary>What the report says about the machine.</summary>
internal static class Machine
{
    /// <summary>The 1-, 5- and 15-minute load averages ("unknown" where /proc/loadavg is missing).</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";

    /// <summary>The CPU's model name.</summary>
    public static string CpuModel() =>
        File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
            : "unknown";
}
